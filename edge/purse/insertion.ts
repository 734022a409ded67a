// A card put into a terminal: opened, checked as every purse operation needs, and its lost pay
// answers settled. When this store sent the card a pay it did not record (the card's answer was lost
// after the chip committed), the chip's usage log says whether the debit was made; if so it is
// recorded once, with the chip's MAC and the terminal id it logged, marked recovered.
import { fromHex } from '../../card/index.js';
import { recoverLostPays, yen, type CardFacts } from '../../domain/index.js';
import { openChipTerminal, type PosRequest } from '../pos/index.js';
import { recordLostRefunds } from './lost-refunds.js';
import { logCoversFrom, Refused, type InsertedCard, type PurseCounter } from './purse-counter.js';

/** Opens the card in the terminal's reader and runs the checks every purse operation needs. */
export async function insertCard(counter: PurseCounter, request: PosRequest): Promise<InsertedCard> {
  const terminal = await openChipTerminal(counter.options, request);
  const verdict = await terminal.checkValidity(counter.now());
  const info = verdict.info;
  if (info.lifecycle === 'blank') throw Refused.because('card_unusable', 'this card cannot be used: it is not issued');
  const listed = counter.options.blacklist.find(info.cardId);
  // No balance: the authentication code failed, so the card was not authenticated and shows none.
  const balance = verdict.balance ?? { balance: 0, counter: 0, tampered: false };
  const facts: CardFacts = {
    cardId: info.cardId,
    authCodeValid: terminal.verifyAuthCode(info),
    dataMacValid: !balance.tampered,
    expiry: info.expiry,
    balance: balance.balance,
    blacklisted: listed !== undefined,
    blacklistReason: listed?.reason,
    terminated: info.lifecycle === 'terminated',
  };
  // checkValidity left the terminal session open (it read the balance under it).
  const card: InsertedCard = { terminal, info, balance, facts, authenticated: terminal.authenticated, notes: [] };
  if (verdict.balance)
    card.notes = [...(await recordLostPays(counter, card, request)), ...(await recordLostRefunds(counter, card, request))];
  return card;
}

async function recordLostPays(counter: PurseCounter, card: InsertedCard, request: PosRequest): Promise<string[]> {
  const cardId = card.info.cardId;
  const sent = counter.pays.unrecorded(cardId);
  if (sent.length === 0) return [];
  await counter.authenticate(card);
  const log = await card.terminal.readLog();
  const steps = recoverLostPays({
    sent,
    lastRecordedCounter: counter.pays.lastRecordedCounter(cardId),
    chipCounter: card.balance.counter,
    log,
    logCoversFromCounter: logCoversFrom(log),
  });
  const notes: string[] = [];
  for (const step of steps) {
    if (step.action === 'forget') {
      if (step.reason === 'beyond_log') {
        counter.logger.warn(
          `purse: pay of ${yen(step.sent.amount)} sent to card ${cardId} at counter ${step.sent.cardCounter} is past the card's usage log: it cannot be recorded`,
        );
      }
      counter.pays.forget(step.sent);
      continue;
    }
    const { debit, sent: noted } = step;
    // Under the command that sent the debit and its terminal's name (the chip logged and MACed that
    // terminal's id, derived from the name), so the terminal's "interrupted" answer and this record
    // match; a note older than that falls back to this command and the chip's terminal id.
    const [entry] = await counter.record({ ...request, commandId: noted.commandId ?? request.commandId }, cardId, {
      type: 'PursePaid',
      data: {
        cardId,
        amount: debit.amount,
        newBalance: debit.balanceAfter,
        cardCounter: debit.counter,
        cardMac: fromHex(debit.mac),
        storeId: counter.storeId,
        terminalId: noted.terminalName ?? debit.terminalId,
        recovered: true,
      },
    });
    const recovered = noted.commandId
      ? {
          commandId: noted.commandId,
          cardId,
          cardCounter: debit.counter,
          amount: debit.amount,
          eventId: entry!.envelope.eventId,
          recoveredAt: counter.now().toISOString(),
        }
      : undefined;
    counter.pays.recorded(cardId, debit.counter, recovered);
    notes.push(`earlier pay of ${yen(debit.amount)} found on the card and recorded`);
  }
  return notes;
}
