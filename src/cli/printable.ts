/**
 * Text for an operator's terminal. Names chosen by a directory or by any chat user (a conversation
 * renamed by hand, a group, an error a backend sent) may hold control characters: an escape
 * sequence written as is would clear the screen, rewrite lines, set the title or the clipboard.
 * They are shown as `\u001b`; tabs and line ends stay (the output's own layout).
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
