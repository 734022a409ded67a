// Applications and head office's issuance decisions: the route that registers applicants, and the
// office that decides on applications and primary issuance against the `hq` stream.
export { IssuanceOffice, type PrimaryCard, type PrimaryIssuedCard, type RegisteredUser } from './issuance-office.js';
export { applicationRoutes, type ApplicationRoutesOptions } from './routes.js';
