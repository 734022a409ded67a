// Which roles each books route needs, for the API's route → roles table: operators run the books,
// auditors read them, counter clerks print a customer's statement.
export const BOOKS_ROUTE_ROLES = {
  'GET /v1/stores/:storeId/settlements': ['operator', 'auditor'],
  'GET /v1/float': ['operator', 'auditor'],
  'GET /v1/float/cards': ['operator', 'auditor'],
  'GET /v1/float/base-dates': ['operator', 'auditor'],
  'GET /v1/cards/:cardId/statement': ['clerk', 'auditor'],
  'GET /v1/loads': ['operator', 'auditor'],
} as const satisfies Record<string, readonly string[]>;
