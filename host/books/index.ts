// Head office's books: store clearing (settlement statements per business day), the float as of any
// date by event time and by knowledge time with the deposit duty on the base dates, customers' card
// statements, and continuous load reconciliation (overdue loads raise alerts).
export { headOfficeBooks, type BooksOptions, type BooksParts } from './wiring.js';
export { BOOKS_ROUTE_ROLES } from './roles.js';
