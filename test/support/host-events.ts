import type { NewDomainEvent } from '../../contracts/index.js';

// Domain events with realistic fields, for host-side tests.

export const userRegistered = (userId: string, homeStoreId: string): NewDomainEvent => ({
  type: 'UserRegistered',
  data: {
    userId,
    applicationId: `app-${userId}`,
    personal: {
      name: `Name ${userId}`,
      address: '1-2-3 Chiyoda, Tokyo',
      birthDate: '1990-04-01',
      occupation: 'engineer',
      affiliation: 'ACME',
    },
    bank: { bankName: 'Cardsys Bank', bankCode: '0001', branchCode: '123', accountNumber: '1234567' },
    homeStoreId,
  },
});

export const cardPrimaryIssued = (cardId: string, userId: string): NewDomainEvent => ({
  type: 'CardPrimaryIssued',
  data: { cardId, userId, bankId: '00011231234567', expiry: '2030-12-31', keyVersion: 1 },
});

export const cardIssued = (cardId: string, userId: string, storeId: string): NewDomainEvent => ({
  type: 'CardIssued',
  data: { cardId, userId, bankId: '00011231234567', storeId, terminalId: 'pos-1', expiry: '2030-12-31', writtenDigest: new Uint8Array(32) },
});

export const purseLoaded = (cardId: string, storeId: string, amount: number, newBalance: number): NewDomainEvent => ({
  type: 'PurseLoaded',
  data: {
    cardId,
    amount,
    newBalance,
    cardCounter: 1,
    authorizationId: 'auth-1',
    cardMac: Uint8Array.of(0xca, 0xfe),
    storeId,
    terminalId: 'pos-1',
  },
});

export const pursePaid = (cardId: string, storeId: string, amount: number, newBalance: number): NewDomainEvent => ({
  type: 'PursePaid',
  data: { cardId, amount, newBalance, cardCounter: 2, cardMac: Uint8Array.of(0xbe, 0xef), storeId, terminalId: 'pos-1' },
});

export const storeRegistered = (storeId: string, name: string): NewDomainEvent => ({
  type: 'StoreRegistered',
  data: { storeId, name, nearbyStoreIds: [] },
});
