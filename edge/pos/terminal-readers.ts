import { CardRemovedError, NoReaderError, ReaderGoneError, type CardTransport, type PcscCard, type PcscReaders } from '../card-reader/index.js';

/**
 * Each POS terminal's PC/SC reader: one exclusive connection per card insertion, made at the first
 * command after the card went in, and dropped when pcscd reports the card gone or a command finds
 * it gone.
 */
export function pcscTerminalReaders(readers: PcscReaders, readerOf: ReadonlyMap<string, string>): (terminalId: string) => Promise<CardTransport> {
  const connections = new Map<string, CardTransport>();
  const forget = (readerName: string) => connections.delete(readerName);
  readers.on('card-removed', forget);
  readers.on('reader-removed', forget);

  const connect = async (readerName: string): Promise<CardTransport> => {
    const card: PcscCard = await readers.connect(readerName);
    const transport: CardTransport = {
      async transmit(apdu) {
        try {
          return await card.transmit(apdu);
        } catch (error) {
          // The connection closed itself; the next command connects to whatever card is there then.
          if ((error instanceof CardRemovedError || error instanceof ReaderGoneError) && connections.get(readerName) === transport) forget(readerName);
          throw error;
        }
      },
    };
    connections.set(readerName, transport);
    return transport;
  };

  return async (terminalId) => {
    const readerName = readerOf.get(terminalId);
    if (readerName === undefined) throw new NoReaderError(`terminal ${terminalId} has no card reader configured`);
    return connections.get(readerName) ?? connect(readerName);
  };
}
