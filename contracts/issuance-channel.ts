// The issuance info channel between head office and a store: seal contexts and the error
// header both sides agree on.
import { HQ_ORIGIN } from './subjects.js';

/** What a snapshot blob is sealed for; the edge opens it with the same context. */
export const snapshotSealContext = (storeId: string) => ({ purpose: 'issuance-snapshot', recipient: storeId });
export const lookupRequestSealContext = { purpose: 'issuance-lookup', recipient: HQ_ORIGIN };
export const lookupReplySealContext = (storeId: string) => ({ purpose: 'issuance-lookup-reply', recipient: storeId });
/** Header carrying why head office could not answer a lookup (the body is then empty). */
export const LOOKUP_ERROR_HEADER = 'Cardsys-Error';
