// CSV exports of the books' reports: `?format=csv` or `Accept: text/csv`, RFC 4180 (CRLF, quotes
// doubled), UTF-8, with a file name.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';

/** The `format` query parameter of a route that also answers in CSV. */
export const ReportFormat = z.enum(['json', 'csv'], { error: 'format must be json or csv' }).optional();

/** CSV when asked for by `format`, else by the Accept header; JSON otherwise. */
export function wantsCsv(request: FastifyRequest, format: z.output<typeof ReportFormat>): boolean {
  if (format) return format === 'csv';
  return /\btext\/csv\b/i.test(request.headers.accept ?? '');
}

type Cell = string | number | null;

function cell(value: Cell): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function toCsv(header: readonly string[], rows: readonly Cell[][]): string {
  return [header, ...rows].map((row) => `${row.map(cell).join(',')}\r\n`).join('');
}

export function sendCsv(reply: FastifyReply, fileName: string, header: readonly string[], rows: readonly Cell[][]): FastifyReply {
  return reply
    .header('content-type', 'text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${fileName}"`)
    .send(toCsv(header, rows));
}
