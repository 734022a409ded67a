/** A customer's bank account as the card and its stripe carry it. */
export interface BankId {
  /** 4 digits. */
  readonly bankCode: string;
  /** 3 digits. */
  readonly branchCode: string;
  /** 7 digits. */
  readonly accountNumber: string;
}

class BankIdError extends Error {}

export function bankId(bankCode: string, branchCode: string, accountNumber: string): BankId {
  if (!/^\d{4}$/.test(bankCode)) throw new BankIdError(`bank code must be 4 digits, got "${bankCode}"`);
  if (!/^\d{3}$/.test(branchCode)) throw new BankIdError(`branch code must be 3 digits, got "${branchCode}"`);
  if (!/^\d{7}$/.test(accountNumber)) throw new BankIdError(`account number must be 7 digits, got "${accountNumber}"`);
  return { bankCode, branchCode, accountNumber };
}

/**
 * The 14 digits bank || branch || account: how the chip, the stripe and head office's records name
 * an account. Takes the parts as events carry them too (a missing part reads as empty).
 */
export function bankIdDigits(id: {
  readonly bankCode?: string | null;
  readonly branchCode?: string | null;
  readonly accountNumber?: string | null;
}): string {
  return `${id.bankCode ?? ''}${id.branchCode ?? ''}${id.accountNumber ?? ''}`;
}

/** Parses "0001-234-5678901" or the 14 plain digits. */
export function parseBankId(text: string): BankId {
  const match = /^(\d{4})-?(\d{3})-?(\d{7})$/.exec(text.trim());
  if (!match)
    throw new BankIdError(
      `bank ID must be bank code (4 digits), branch code (3) and account number (7), e.g. 0001-234-5678901; got "${text}"`,
    );
  return bankId(match[1]!, match[2]!, match[3]!);
}
