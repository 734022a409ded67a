// The customer's bank account at the bank, as head office's inquiry centre learns of it: the bank's
// account feed appends BankAccountOpened to head office's event store. The demo feeds it before
// head office starts, so head office's own writer is the only one appending while it runs.
import { decideInquiry, initialInquiryState } from '../domain/index.js';
import { HqWriter } from '../host/hq-writer/index.js';
import { openEventStore } from '../host/index.js';
import { provisionHeadOffice } from '../host/provisioning/index.js';

export async function feedBankAccount(hqDataDir: string, account: { bankId: string; balance: number }): Promise<void> {
  const store = await openEventStore(hqDataDir);
  try {
    const writer = await HqWriter.open({ store, signingKey: provisionHeadOffice({ hqDataDir }).signingKey });
    const events = decideInquiry({ kind: 'open_account', ...account }, initialInquiryState());
    await writer.append(events.map((event) => ({ event, streamId: `account-${account.bankId}` })));
  } finally {
    await store.close();
  }
}
