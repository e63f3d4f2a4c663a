'use strict';
/**
 * A Node.js client for Varde (docs/contract.md): Arrow tables scored over the bidirectional stream
 * varde.v1.Scoring/ScoreBatches, single observation sets over varde.v1.Observations/PushObservation.
 *
 *     const varde = require('@varde/client');
 *     const client = varde.connect('127.0.0.1:50051');
 *     const { table, replies } = await varde.scoreTable(client, varde.observationTable(rows), 'job-2026-11-02');
 *     const assessment = await varde.push(client, { patient_id: 'p1', resp_rate: 22, ... });
 *     client.close();
 *
 * The .proto files are read at start (proto-loader), from the repository's proto/ folder, the copy in the package
 * (`npm pack`), or VARDE_PROTO_DIR: the contract is the one source, nothing generated is checked in here.
 */

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const arrow = require('apache-arrow');

// The contract's .proto files: VARDE_PROTO_DIR, else the copy `npm pack` puts in the package, else the repository's.
const PROTO_DIR = process.env.VARDE_PROTO_DIR
  || [path.join(__dirname, 'proto'), path.resolve(__dirname, '..', '..', 'proto')]
    .find((dir) => fs.existsSync(path.join(dir, 'varde', 'v1', 'scoring.proto')))
  || path.resolve(__dirname, '..', '..', 'proto');
const PROTO_FILES = [
  'varde/v1/scoring.proto',
  'varde/v1/observations.proto',
  'varde/v1/flags.proto',
  'varde/v1/patients.proto',
];

// proto-loader's defaults would turn patient_id into patientId, int64 into Long objects and enums into numbers.
const LOADER_OPTIONS = {
  keepCase: true, // field names as the .proto, the docs and the Python client spell them (patient_id)
  longs: Number, // int64 counts and flag ids: far below 2^53
  enums: String, // 'BAND_HIGH', not 5
  defaults: true, // unset plain fields read as their zero value; proto3 `optional` fields stay absent when unset
  // google/protobuf/timestamp.proto comes with protobufjs; only the contract's own folder is needed.
  includeDirs: [PROTO_DIR],
};

const MiB = 1 << 20;
// Requests are cut to about this size, or half the server's limit if that is smaller (as VardeClient does):
// large enough to amortise per-message costs, with room left for IPC framing and long strings.
const DEFAULT_CHUNK_BYTES = 4 * MiB;

// The observation contract (docs/news2.md) as Arrow types the server reads without a cast: text as plain utf8,
// numbers as float64 (spo2_scale and age too: an integer column would truncate 1.5 to a valid scale 1, which the
// server rejects as SPO2_SCALE_INVALID when it sees the value sent), yes/no as bool, times as timestamp[us, UTC].
const COLUMN_TYPES = {
  patient_id: () => new arrow.Utf8(),
  observed_at: () => new arrow.TimestampMicrosecond('UTC'),
  resp_rate: () => new arrow.Float64(),
  spo2: () => new arrow.Float64(),
  spo2_scale: () => new arrow.Float64(),
  on_oxygen: () => new arrow.Bool(),
  systolic_bp: () => new arrow.Float64(),
  pulse: () => new arrow.Float64(),
  consciousness: () => new arrow.Utf8(),
  temperature: () => new arrow.Float64(),
  age: () => new arrow.Float64(),
  pregnant: () => new arrow.Bool(),
};
const REQUIRED = ['patient_id', 'resp_rate', 'spo2', 'on_oxygen', 'systolic_bp', 'pulse', 'consciousness',
  'temperature'];

let proto = null;

/** The varde.v1 package as grpc-js service constructors and message types (loaded once). */
function loadProto() {
  if (proto === null) {
    const definition = protoLoader.loadSync(PROTO_FILES, LOADER_OPTIONS);
    proto = grpc.loadPackageDefinition(definition).varde.v1;
  }
  return proto;
}

function readBytes(value) {
  if (value === undefined || value === null) return null;
  return Buffer.isBuffer(value) || value instanceof Uint8Array ? Buffer.from(value) : fs.readFileSync(value);
}

/**
 * A connection to one Varde server. With no TLS option the channel is plaintext, for a server on this machine
 * (127.0.0.1:50051); a server on a network needs TLS and a credential (docs/security.md):
 *
 *   tlsCa        the server's CA (PEM, a path or a Buffer)
 *   tlsCert, tlsKey   your client certificate and key, for mutual TLS
 *   token        an access token (HelseID), sent as `authorization: Bearer ...` on every call; needs TLS
 *   tokenFile    read again on every call, so that a renewed token is picked up
 *   serverName   the name in the server's certificate when it is not the host dialled
 *   deadlineSeconds   per-call deadline (default 60; 0: none)
 */
function connect(address, options = {}) {
  const v1 = loadProto();
  const channelOptions = {
    // grpc-js refuses replies over 4 MiB by default; a scored batch is larger than its request.
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
  };
  if (options.serverName) channelOptions['grpc.ssl_target_name_override'] = options.serverName;
  const tls = options.tlsCa || options.tlsCert || options.tlsKey;
  let credentials = tls
    ? grpc.credentials.createSsl(readBytes(options.tlsCa), readBytes(options.tlsKey), readBytes(options.tlsCert))
    : grpc.credentials.createInsecure();
  if (options.token || options.tokenFile) {
    if (!tls) throw new Error('a token is sent over TLS only: give tlsCa (the server\'s CA) too');
    const bearer = grpc.credentials.createFromMetadataGenerator((_params, callback) => {
      const token = options.token || fs.readFileSync(options.tokenFile, 'utf8').trim();
      const metadata = new grpc.Metadata();
      metadata.add('authorization', `Bearer ${token}`);
      callback(null, metadata);
    });
    credentials = grpc.credentials.combineChannelCredentials(credentials, bearer);
  }
  const scoring = new v1.Scoring(address, credentials, channelOptions);
  const shared = { channelOverride: scoring.getChannel() };
  return {
    address,
    deadlineSeconds: options.deadlineSeconds === undefined ? 60 : options.deadlineSeconds,
    retries: options.retries === undefined ? 3 : options.retries,
    chunkBytes: options.chunkBytes || DEFAULT_CHUNK_BYTES,
    scoring,
    observations: new v1.Observations(address, credentials, { ...channelOptions, ...shared }),
    flags: new v1.Flags(address, credentials, { ...channelOptions, ...shared }),
    patients: new v1.Patients(address, credentials, { ...channelOptions, ...shared }),
    info: null,
    close() {
      scoring.close();
    },
  };
}

function deadline(client) {
  return client.deadlineSeconds ? new Date(Date.now() + client.deadlineSeconds * 1000) : Infinity;
}

/**
 * A unary call as a promise: unary(client, client.flags, 'ListFlags', { limit: 10 }). UNAVAILABLE (a server
 * restarting, not reachable yet) is retried with backoff; every other error rejects with the gRPC error
 * (err.code, err.details; a google.rpc.BadRequest naming the field is in the grpc-status-details-bin trailer).
 */
async function unary(client, stub, method, request) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise((resolve, reject) => {
        stub[method](request, { deadline: deadline(client) }, (err, reply) => (err ? reject(err) : resolve(reply)));
      });
    } catch (err) {
      if (err.code !== grpc.status.UNAVAILABLE || attempt >= client.retries) throw err;
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
    }
  }
}

/** The server's version and limits (GetServerInfo), asked once per client. */
async function serverInfo(client) {
  if (client.info === null) client.info = await unary(client, client.scoring, 'GetServerInfo', {});
  return client.info;
}

/**
 * An Arrow table of observation sets, from plain objects with the contract's column names (null or absent: not
 * measured). observed_at is a Date, a number of milliseconds since 1970 (UTC) or an ISO 8601 text with a zone.
 *
 * Built with explicit types, because apache-arrow's inference would not send what the contract means: it
 * dictionary-encodes strings, picks a type from the first values (a number column of whole numbers, say), and
 * marks a column with no nulls non-nullable.
 */
function observationTable(rows) {
  const names = new Set(REQUIRED);
  for (const row of rows) {
    for (const [name, value] of Object.entries(row)) {
      if (!(name in COLUMN_TYPES)) {
        throw new Error(`unknown observation column ${JSON.stringify(name)}; known: ${Object.keys(COLUMN_TYPES)}`);
      }
      if (value !== null && value !== undefined) names.add(name);
    }
  }
  const ordered = Object.keys(COLUMN_TYPES).filter((name) => names.has(name));
  const fields = ordered.map((name) => new arrow.Field(name, COLUMN_TYPES[name](), true));
  const vectors = {};
  for (const field of fields) {
    const values = rows.map((row) => {
      const value = row[field.name];
      if (value === undefined || value === null) return null;
      return field.name === 'observed_at' ? epochMillis(value) : value;
    });
    vectors[field.name] = arrow.vectorFromArray(values, field.type);
  }
  return new arrow.Table(new arrow.Schema(fields), vectors);
}

function epochMillis(value) {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return value;
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(String(value))) {
    throw new Error(`observed_at ${JSON.stringify(value)} needs a time zone (Z or an offset); a local time is ambiguous`);
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new Error(`observed_at ${JSON.stringify(value)} is not an ISO 8601 time`);
  return ms;
}

/** Record batches of at most about maxBytes of Arrow IPC each (a batch that is larger is halved until it fits). */
function* chunks(table, maxBytes) {
  for (const batch of table.batches) {
    const pending = [new arrow.Table(batch)];
    while (pending.length) {
      const part = pending.shift();
      const ipc = arrow.tableToIPC(part, 'stream');
      if (ipc.byteLength <= maxBytes || part.numRows <= 1) {
        yield { part, ipc };
      } else {
        const half = Math.ceil(part.numRows / 2);
        pending.unshift(part.slice(0, half), part.slice(half));
      }
    }
  }
}

/**
 * The same table with its dictionary columns numbered above `taken`. apache-arrow keys a schema's dictionaries by
 * id: the result columns, read from the reply's own IPC stream, number theirs from 0, as does a table of yours
 * with dictionary columns (read from a file, or strings as apache-arrow encodes them by default), and a table
 * holding both would fail ("two different dictionaries with the same Id"). The numbering is the same for every
 * reply, so that the scored parts concatenate.
 */
function renumberDictionaries(results, taken) {
  let next = Math.max(-1, ...taken) + 1;
  const fields = [];
  const columns = {};
  results.schema.fields.forEach((field, i) => {
    let type = field.type;
    if (arrow.DataType.isDictionary(type)) {
      type = new arrow.Dictionary(type.dictionary, type.indices, next++, type.isOrdered);
    }
    fields.push(new arrow.Field(field.name, type, field.nullable, field.metadata));
    columns[field.name] = new arrow.Vector(results.getChildAt(i).data.map((data) => data.clone(type)));
  });
  return new arrow.Table(new arrow.Schema(fields, results.schema.metadata), columns);
}

/**
 * Score an Arrow table over one ScoreBatches stream. Each record batch (cut to fit the server's message limit) is
 * one request with the id `${batchId}/${n}`; the server answers each in order. Resolves to
 *
 *   { table: your columns followed by the NEWS2 result columns (news2_total, news2_band, reject_reason, ...),
 *     replies: the server's ScoredBatch per request (batch_id, summary, flags_raised, flags_updated,
 *              flags_replayed), arrow_ipc left out }
 *
 * The batch id is also the idempotency key of the flags a batch raises: a stream that failed is not retried here
 * (part of it may have been scored); send the same table again with the same batchId, and nothing is raised twice.
 */
async function scoreTable(client, table, batchId = crypto.randomUUID()) {
  const info = await serverInfo(client);
  const maxBytes = Math.min(client.chunkBytes, Math.floor(Number(info.max_message_bytes) / 2));
  const requests = [...chunks(table, maxBytes)];
  if (requests.length === 0) throw new Error('nothing to score: the table holds no record batch');
  const replies = await new Promise((resolve, reject) => {
    const got = [];
    const call = client.scoring.ScoreBatches({ deadline: deadline(client) });
    call.on('data', (reply) => got.push(reply));
    call.on('error', reject);
    call.on('end', () => resolve(got));
    requests.forEach(({ ipc }, n) => {
      // results_only: the server sends back only the result columns; they are put beside the input here.
      call.write({ batch_id: `${batchId}/${n}`, arrow_ipc: Buffer.from(ipc.buffer, ipc.byteOffset, ipc.byteLength),
        results_only: true });
    });
    call.end();
  });
  if (replies.length !== requests.length) {
    throw new Error(`${requests.length} batches sent, ${replies.length} scored: the stream ended early`);
  }
  const taken = [...table.schema.dictionaries.keys()];
  const parts = replies.map((reply, n) => requests[n].part.assign(
    renumberDictionaries(arrow.tableFromIPC(reply.arrow_ipc), taken)));
  return {
    table: parts.length === 1 ? parts[0] : parts[0].concat(...parts.slice(1)),
    replies: replies.map((reply) => {
      const { arrow_ipc: _bytes, ...rest } = reply;
      return rest;
    }),
  };
}

/**
 * Score one observation set (PushObservation): an object with the Observation fields (patient_id, resp_rate,
 * spo2, on_oxygen, systolic_bp, pulse, consciousness, temperature, ...; absent: not measured). observed_at as for
 * observationTable. Resolves to the Assessment (total, band 'BAND_MEDIUM', reject_reason, flag_ids, ...).
 */
function push(client, observation) {
  const msg = { ...observation };
  for (const [name, value] of Object.entries(msg)) {
    if (value === null || value === undefined) delete msg[name];
  }
  if (msg.observed_at !== undefined && !('seconds' in Object(msg.observed_at))) {
    const ms = epochMillis(msg.observed_at);
    msg.observed_at = { seconds: Math.floor(ms / 1000), nanos: (((ms % 1000) + 1000) % 1000) * 1e6 };
  }
  return unary(client, client.observations, 'PushObservation', msg);
}

module.exports = {
  connect,
  serverInfo,
  scoreTable,
  observationTable,
  push,
  unary,
  loadProto,
  PROTO_DIR,
  LOADER_OPTIONS,
};
