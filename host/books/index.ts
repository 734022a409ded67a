// Head office's books: store clearing (settlement statements per business day), the float as of any
// date by event time and by knowledge time with the deposit duty on the base dates, customers' card
// statements, and continuous load reconciliation (overdue loads raise alerts).
export { type BooksOptions, type HeadOfficeBooks, headOfficeBooks, type HeadOfficeBooksOptions } from './wiring.js';
