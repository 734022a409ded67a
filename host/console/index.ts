// Head office's console: the page (served from its build) and the routes it reads besides the
// query API's, with what head office hears of each store.
export { consolePage } from './static.js';
export { consoleRoutes, type ConsoleRoutesOptions } from './routes.js';
export { StoreContacts } from './store-contacts.js';
