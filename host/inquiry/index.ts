// Head office's inquiry centre: load authorisations against bank accounts, their settlement, and
// the blacklist feed to stores.
export { InquiryCentre, type InquiryCentreOptions } from './inquiry-centre.js';

export { purseRoutes, purseViewOf, type PurseRoutesOptions } from './routes.js';
export { headOfficePurse, type HeadOfficePurse } from './head-office-purse.js';
