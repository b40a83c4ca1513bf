// the files of undici that src/http/undici.ts loads one by one, typed as undici's index types them
declare module 'undici/lib/dispatcher/dispatcher.js' {
  import { Dispatcher } from 'undici';
  export default Dispatcher;
}
declare module 'undici/lib/dispatcher/pool.js' {
  import { Pool } from 'undici';
  export default Pool;
}
declare module 'undici/lib/global.js' {
  export { getGlobalDispatcher } from 'undici';
}
declare module 'undici/lib/api/index.js' {
  import { Dispatcher } from 'undici';
  const api: Pick<Dispatcher, 'request' | 'stream' | 'pipeline' | 'upgrade' | 'connect'>;
  export default api;
}
