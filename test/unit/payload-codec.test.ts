/**
 * The Temporal payload codec and the codec server's HTTP protocol (the Temporal round trip itself is in
 * test/integration/payload-codec.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defaultPayloadConverter, METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
import { startCodecServer, type RunningCodecServer } from '../../src/encryption/codecServer';
import { ENCRYPTED_ENCODING, KEY_ID_METADATA, PayloadEncryptionCodec, payloadCodecFromEnv } from '../../src/encryption/payloadCodec';
import { keyFingerprint } from '../../src/encryption';

const current = randomBytes(32);
const previous = randomBytes(32);
const plaintext = { plan: 'payroll-ledger', startedAt: '2026-11-21T08:35:00.123Z' };

describe('payload encryption codec', () => {
  test('encodes to binary/encrypted with the key id, and decodes back', async () => {
    const codec = new PayloadEncryptionCodec([current]);
    const payload = defaultPayloadConverter.toPayload(plaintext);
    const [encoded] = await codec.encode([payload]);
    expect(Buffer.from(encoded.metadata![METADATA_ENCODING_KEY]).toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(encoded.metadata![KEY_ID_METADATA]).toString()).toBe(keyFingerprint(current));
    expect(Buffer.from(encoded.data!).toString('latin1')).not.toContain('payroll-ledger');
    const [decoded] = await codec.decode([encoded]);
    expect(defaultPayloadConverter.fromPayload(decoded)).toEqual(plaintext);
    // Payloads that are not encrypted pass through (histories from before the codec was turned on).
    expect(await codec.decode([payload])).toEqual([payload]);
  });

  test('a rotated codec still decodes the old key; without it, it says which key is missing', async () => {
    const [old] = await new PayloadEncryptionCodec([previous]).encode([defaultPayloadConverter.toPayload(plaintext)]);
    const [decoded] = await new PayloadEncryptionCodec([current, previous]).decode([old]);
    expect(defaultPayloadConverter.fromPayload(decoded)).toEqual(plaintext);
    await expect(new PayloadEncryptionCodec([current]).decode([old])).rejects.toThrow(`payload key ${keyFingerprint(previous)}, which is not configured`);
    const flipped = Buffer.from(old.data!);
    flipped[20] ^= 0x01;
    const tampered: Payload = { ...old, data: flipped };
    await expect(new PayloadEncryptionCodec([previous]).decode([tampered])).rejects.toThrow('fails authentication');
  });

  test('keys come from LIFEBOAT_PAYLOAD_KEY_FILE (one per line, current first) or LIFEBOAT_PAYLOAD_KEY; bad ones name the variable', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-payload-keys-'));
    const file = path.join(dir, 'payload.keys');
    writeFileSync(file, `${current.toString('base64')}\n${previous.toString('hex')}\n`);
    expect(payloadCodecFromEnv({})).toBeUndefined();
    expect(payloadCodecFromEnv({ LIFEBOAT_PAYLOAD_KEY_FILE: file })?.currentKeyId).toBe(keyFingerprint(current));
    expect(payloadCodecFromEnv({ LIFEBOAT_PAYLOAD_KEY: previous.toString('base64') })?.currentKeyId).toBe(keyFingerprint(previous));
    expect(() => payloadCodecFromEnv({ LIFEBOAT_PAYLOAD_KEY: 'hunter2' })).toThrow(/environment variable LIFEBOAT_PAYLOAD_KEY .* does not hold a 32-byte key/);
    expect(() => payloadCodecFromEnv({ LIFEBOAT_PAYLOAD_KEY_FILE: path.join(dir, 'missing') })).toThrow(/key file .*missing .* does not exist/);
    expect(() => payloadCodecFromEnv({ LIFEBOAT_PAYLOAD_KEY_FILE: file, LIFEBOAT_PAYLOAD_KEY: 'x' })).toThrow('not both');
  });
});

describe('codec server', () => {
  let server: RunningCodecServer;
  const codec = new PayloadEncryptionCodec([current]);
  const origin = 'http://localhost:8233';

  beforeAll(async () => {
    server = await startCodecServer({ codec, port: 0, host: '127.0.0.1', corsOrigins: [origin] });
  });
  afterAll(() => server.close());

  const toJson = (payload: Payload) => ({
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([name, value]) => [name, Buffer.from(value).toString('base64')])),
    data: Buffer.from(payload.data ?? []).toString('base64'),
  });
  const post = (route: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${route}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', ...headers }, body: JSON.stringify(body) });

  test('POST /decode returns the plaintext payloads in proto JSON; /{namespace}/encode encodes', async () => {
    const [encoded] = await codec.encode([defaultPayloadConverter.toPayload(plaintext)]);
    const response = await post('/decode', { payloads: [toJson(encoded)] });
    expect(response.status).toBe(200);
    const { payloads } = (await response.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    expect(Buffer.from(payloads[0].metadata.encoding, 'base64').toString()).toBe('json/plain');
    expect(JSON.parse(Buffer.from(payloads[0].data, 'base64').toString())).toEqual(plaintext);

    const encodeResponse = await post('/default/encode', { payloads: payloads });
    const reEncoded = ((await encodeResponse.json()) as { payloads: { metadata: Record<string, string> }[] }).payloads[0];
    expect(Buffer.from(reEncoded.metadata.encoding, 'base64').toString()).toBe(ENCRYPTED_ENCODING);
  });

  test('CORS answers the configured Web UI origin only', async () => {
    const preflight = await fetch(`${server.url}/decode`, { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(origin);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/i);
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    const stranger = await post('/decode', { payloads: [] }, { Origin: 'http://evil.example' });
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('bad requests are refused with a reason', async () => {
    expect((await post('/decode', { nothing: true })).status).toBe(400);
    expect((await fetch(`${server.url}/decode`, { method: 'POST', body: 'not json' })).status).toBe(400);
    expect((await fetch(`${server.url}/decode`)).status).toBe(405);
    expect((await post('/elsewhere', { payloads: [] })).status).toBe(404);
  });
});
