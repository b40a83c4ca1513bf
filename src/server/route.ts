import type { NextFunction, Request, Response } from 'express';

/** an async handler whose failure goes to the error handler (Express 4 does not catch rejections) */
export function route(fn: (req: Request, res: Response) => Promise<void>) {
  return (req: Request, res: Response, next: NextFunction) => {
    fn(req, res).catch(next);
  };
}
