import type { IncomingMessage } from 'node:http';
import getRawBody from 'raw-body';
import { AppError } from './errors.js';

/**
 * A request's JSON body, read without Express (the ingest route): `application/json` in UTF-8,
 * not compressed, at most `limitBytes` (raw-body answers 413 past it, and 400 for a body
 * shorter than its Content-Length). Not JSON: 400 `invalid_json`, as express.json answers.
 */
export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const [mediaType = '', ...parameters] = (req.headers['content-type'] ?? '').split(';');
  if (mediaType.trim().toLowerCase() !== 'application/json') {
    throw new AppError(415, 'unsupported_media_type', 'Content-Type must be application/json');
  }
  for (const parameter of parameters) {
    const [name = '', value = ''] = parameter.split('=').map((part) => part.trim().toLowerCase());
    const charset = value.replaceAll('"', '');
    if (name === 'charset' && charset !== 'utf-8' && charset !== 'utf8') {
      throw new AppError(415, 'unsupported_charset', `charset ${charset} is not supported; send UTF-8`);
    }
  }
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    throw new AppError(
      415,
      'unsupported_encoding',
      `Content-Encoding ${encoding} is not supported; send it uncompressed`,
    );
  }
  const body = await getRawBody(req, { length: req.headers['content-length'], limit: limitBytes });
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new AppError(400, 'invalid_json', 'request body is not valid JSON');
  }
}
