import { buildCommandApdu, concat, parseCommandApdu, parseResponseApdu, type ResponseApdu } from '../card/index.js';
import { CardResponseError } from './errors.js';

/** Anything that carries one command APDU to a card and brings back its raw response APDU. */
export interface CardTransport {
  transmit(apdu: Uint8Array): Promise<Uint8Array>;
}

const MAX_GET_RESPONSE_ROUNDS = 16;

/**
 * Exchanges a command, following the card's transport-level hints: 6Cxx (wrong Le) is re-sent with
 * the Le the card named, 61xx (more data) is collected with GET RESPONSE.
 */
export async function exchange(transport: CardTransport, apdu: Uint8Array): Promise<ResponseApdu> {
  let response = parseResponseApdu(await transport.transmit(apdu));
  if ((response.sw & 0xff00) === 0x6c00) {
    const command = parseCommandApdu(apdu);
    response = parseResponseApdu(await transport.transmit(buildCommandApdu({ ...command, le: response.sw & 0xff || 256 })));
  }
  const chunks: Uint8Array[] = [response.data];
  for (let round = 0; (response.sw & 0xff00) === 0x6100; round++) {
    if (round === MAX_GET_RESPONSE_ROUNDS) throw new CardResponseError('card keeps answering 61xx: too much response data');
    const getResponse = buildCommandApdu({ cla: 0x00, ins: 0xc0, p1: 0, p2: 0, le: response.sw & 0xff || 256 });
    response = parseResponseApdu(await transport.transmit(getResponse));
    chunks.push(response.data);
  }
  return { data: concat(...chunks), sw: response.sw };
}
