/**
 * The standard gRPC health protocol (`grpc.health.v1`, https://github.com/grpc/grpc/blob/master/doc/health-checking.md),
 * its two messages encoded by hand (protobuf wire format) so `hotcold/grpc` needs no proto loader:
 *
 *     message HealthCheckRequest  { string service = 1; }
 *     message HealthCheckResponse { enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
 *                                   ServingStatus status = 1; }
 */

/** The method every probe calls. */
export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';

/** `grpc.health.v1.HealthCheckResponse.ServingStatus`: a hotcold node answers `SERVING` only while it holds the lease. */
export const ServingStatus = {
  /** The server does not know. */
  UNKNOWN: 0,
  /** Serving (a hotcold node: holds the lease). */
  SERVING: 1,
  /** Not serving (a hotcold node: standby, draining or lost). */
  NOT_SERVING: 2,
  /** The service named in the request is unknown (Watch only). */
  SERVICE_UNKNOWN: 3,
} as const;

/** `grpc.health.v1.HealthCheckRequest`. */
export interface HealthCheckRequest {
  /** The service asked about; `''` means the whole server. */
  service: string;
}
/** `grpc.health.v1.HealthCheckResponse`. */
export interface HealthCheckResponse {
  /** A {@link ServingStatus} value. */
  status: number;
}

function writeVarint(out: number[], value: number): void {
  let v = value >>> 0;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
}

/** Reads a varint at `at`; returns [value, next offset], or undefined when truncated or over 32 bits. */
function readVarint(bytes: Uint8Array, at: number): [number, number] | undefined {
  let value = 0;
  for (let shift = 0, i = at; i < bytes.length && shift < 35; shift += 7, i++) {
    const b = bytes[i] as number;
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, i + 1];
  }
  return undefined;
}

/** Calls `onField(field, wireType, value)` for each varint / length-delimited field; skips the others. */
function readFields(bytes: Uint8Array, onField: (field: number, value: number | Uint8Array) => void): void {
  let at = 0;
  while (at < bytes.length) {
    const tag = readVarint(bytes, at);
    if (tag === undefined) throw new Error('truncated protobuf tag');
    at = tag[1];
    const field = Math.floor(tag[0] / 8);
    const wire = tag[0] % 8;
    if (wire === 0) {
      const v = readVarint(bytes, at);
      if (v === undefined) throw new Error('truncated protobuf varint');
      at = v[1];
      onField(field, v[0]);
    } else if (wire === 2) {
      const len = readVarint(bytes, at);
      if (len === undefined || len[1] + len[0] > bytes.length) throw new Error('truncated protobuf field');
      onField(field, bytes.subarray(len[1], len[1] + len[0]));
      at = len[1] + len[0];
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}

/** Encodes a health request in protobuf wire format (for a server or a test double). */
export function encodeHealthRequest(request: HealthCheckRequest): Buffer {
  if (request.service.length === 0) return Buffer.alloc(0);
  const text = Buffer.from(request.service, 'utf8');
  const head: number[] = [0x0a];
  writeVarint(head, text.length);
  return Buffer.concat([Buffer.from(head), text]);
}

/**
 * Decodes a health request (unknown fields skipped).
 * @throws {Error} when the bytes are truncated or use an unsupported wire type.
 */
export function decodeHealthRequest(bytes: Uint8Array): HealthCheckRequest {
  let service = '';
  readFields(bytes, (field, value) => {
    if (field === 1 && typeof value !== 'number') service = Buffer.from(value).toString('utf8');
  });
  return { service };
}

/** Encodes a health response in protobuf wire format. */
export function encodeHealthResponse(response: HealthCheckResponse): Buffer {
  if (response.status === 0) return Buffer.alloc(0);
  const out: number[] = [0x08];
  writeVarint(out, response.status);
  return Buffer.from(out);
}

/**
 * Decodes a health response (unknown fields skipped).
 * @throws {Error} when the bytes are truncated or use an unsupported wire type.
 */
export function decodeHealthResponse(bytes: Uint8Array): HealthCheckResponse {
  let status = 0;
  readFields(bytes, (field, value) => {
    if (field === 1 && typeof value === 'number') status = value;
  });
  return { status };
}
