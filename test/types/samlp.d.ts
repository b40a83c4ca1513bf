// Auth0's samlp ships no types; the tests use one function of it.
declare module 'samlp' {
  const samlp: {
    getSamlResponse(options: Record<string, unknown>, user: unknown, callback: (err: Error | null, xml: string) => void): void;
  };
  export default samlp;
}
