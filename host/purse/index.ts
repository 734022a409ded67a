// Head office's purse and blacklist side: the inquiry centre (load authorisations against bank
// accounts and their settlement, the blacklist and its feed to stores), its routes, and the
// composition root that starts it with the API.
export { InquiryCentre, type InquiryCentreOptions } from './inquiry-centre.js';
export { purseRoutes, type PurseRoutesOptions } from './routes.js';
export { replacementRoutes, type ReplacementRoutesOptions } from './replacement-routes.js';
export type { ReplacementView } from './card-replacements.js';
export { headOfficePurse, type HeadOfficePurse } from './wiring.js';
