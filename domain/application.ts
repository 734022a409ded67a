// A customer's application for a card, decided at head office: validated input, one user per bank
// account. Pure: the caller supplies ids and appends the resulting event.
import { z } from 'zod';
import type { DomainEvent, EventData } from '../contracts/index.js';
import { StoreId } from '../contracts/index.js';
import { DomainRefusal, type Decider } from './decider.js';
import { bankIdDigits, personalRecordProblem } from '../card/index.js';

const digits = (count: number, field: string) =>
  z.string({ error: `${field} is required` }).regex(new RegExp(`^\\d{${count}}$`), `${field} must be exactly ${count} digits`);

// Fields written to the chip are limited there, in UTF-8 bytes (personalRecordProblem), not here in characters.
const requiredText = (field: string) =>
  z
    .string({ error: `${field} is required` })
    .trim()
    .min(1, `${field} is required`);

const optionalText = (field: string, max?: number) => {
  const text = z.string().trim();
  return (max === undefined ? text : text.max(max, `${field} must be at most ${max} characters`)).default('');
};

/** A calendar date YYYY-MM-DD that exists, not in the future. */
const BirthDate = z
  .string({ error: 'birth date is required' })
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'birth date must be YYYY-MM-DD')
  .refine((value) => {
    const date = new Date(`${value}T00:00:00Z`);
    return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value);
  }, 'birth date is not a calendar date')
  .refine(
    (value) => value >= '1900-01-01' && value <= new Date().toISOString().slice(0, 10),
    'birth date must be between 1900-01-01 and today',
  );

/** The body of an application: personal data, bank data and the store the customer will use. */
export const ApplicationInput = z.object({
  personal: z
    .object(
      {
        name: requiredText('name'),
        address: requiredText('address'),
        birthDate: BirthDate,
        occupation: optionalText('occupation'),
        affiliation: optionalText('affiliation'),
      },
      { error: 'personal data is required' },
    )
    // What the card cannot hold is refused now, not at the store's counter.
    .superRefine((personal, context) => {
      const problem = personalRecordProblem(personal);
      if (problem) context.addIssue({ code: 'custom', message: problem.message, path: problem.field === 'record' ? [] : [problem.field] });
    }),
  bank: z.object(
    {
      bankName: optionalText('bank name', 100),
      bankCode: digits(4, 'bank code'),
      branchCode: digits(3, 'branch code'),
      accountNumber: digits(7, 'account number'),
    },
    { error: 'bank data is required' },
  ),
  homeStoreId: z.string({ error: 'home store is required' }).pipe(StoreId),
});
export type ApplicationInput = z.infer<typeof ApplicationInput>;

/** What head office must know to decide on applications: which bank accounts already have a user. */
export interface ApplicationState {
  readonly userByBankId: ReadonlyMap<string, string>;
  readonly users: ReadonlySet<string>;
}

const initialApplicationState = (): ApplicationState => ({ userByBankId: new Map(), users: new Set() });

function evolveApplications(state: ApplicationState, event: DomainEvent): ApplicationState {
  if (event.type !== 'UserRegistered') return state;
  const bankId = bankIdDigits(event.data.bank ?? {});
  return {
    userByBankId: new Map(state.userByBankId).set(bankId, event.data.userId),
    users: new Set(state.users).add(event.data.userId),
  };
}

export interface SubmitApplication {
  applicationId: string;
  userId: string;
  input: ApplicationInput;
}

/** Refusal of an application because its bank account already belongs to a user. */
export class DuplicateApplicationError extends DomainRefusal {
  override name = 'DuplicateApplicationError';
  constructor(
    readonly bankId: string,
    readonly existingUserId: string,
  ) {
    super('duplicate_application', `bank account ${bankId} already has a registered user (${existingUserId})`);
  }
}

type UserRegisteredEvent = { type: 'UserRegistered'; data: EventData<'UserRegistered'> };

function decideApplication(command: SubmitApplication, state: ApplicationState): UserRegisteredEvent[] {
  const { input } = command;
  const bankId = bankIdDigits(input.bank);
  const existing = state.userByBankId.get(bankId);
  if (existing !== undefined) throw new DuplicateApplicationError(bankId, existing);
  return [
    {
      type: 'UserRegistered',
      data: {
        userId: command.userId,
        applicationId: command.applicationId,
        personal: input.personal,
        bank: input.bank,
        homeStoreId: input.homeStoreId,
      },
    },
  ];
}

/** The application decider in given/when/then shape. */
export const applicationDecider: Decider<SubmitApplication, ApplicationState, UserRegisteredEvent> = {
  initialState: initialApplicationState,
  evolve: evolveApplications,
  decide: decideApplication,
};
