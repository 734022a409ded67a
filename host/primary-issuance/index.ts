// Primary issuance at head office: the card in head office's reader, its stripe, CardPrimaryIssued.
export {
  issuePrimaryCard,
  stripeWriterOf,
  virtualCardStripeWriter,
  type IssuanceStation,
  type IssueCardRequest,
  type IssuedCard,
  type PrimaryIssuanceOptions,
  type StripeData,
} from './primary-issuance.js';
export { IssueCardBody, primaryIssuanceRoutes, sendIssuanceRefusal } from './routes.js';
