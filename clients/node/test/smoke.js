'use strict';
/**
 * Smoke test of the Node client against a running server:
 *
 *     node clients/node/test/smoke.js 127.0.0.1:50051
 *
 * Against a server with TLS and auth: VARDE_TLS_CA, VARDE_CLIENT_TLS_CERT and VARDE_CLIENT_TLS_KEY (paths), and
 * VARDE_TOKEN_FILE (a token with the journal and device roles).
 *
 * Scores a 3-row table (one HIGH, one ZERO, one with SpO2 140), sends it again with the same batch id (flags not
 * raised twice), scores a table built with apache-arrow's own inference (dictionary-encoded strings) and pushes one
 * observation. Prints JSON of what came back; exits 1 on any mismatch (listed under "mismatches" and on stderr).
 * tests/contract/test_node_client.py runs it against a real server.
 */

const crypto = require('node:crypto');
const arrow = require('apache-arrow');
const varde = require('..');

const address = process.argv[2];
if (!address) {
  console.error('usage: node test/smoke.js HOST:PORT');
  process.exit(2);
}

const mismatches = [];
function expect(what, got, want) {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    mismatches.push(`${what}: got ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
}

// A minute ago, whole milliseconds: a time in the future would be rejected (OBSERVED_IN_FUTURE).
const observedAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
const ROWS = [
  // RR 26 (3), SpO2 90 (3), air, BP 95 (2), pulse 125 (2), alert, 38.5 (1): 11, HIGH.
  { patient_id: 'node-high', observed_at: observedAt, resp_rate: 26, spo2: 90, on_oxygen: false, systolic_bp: 95,
    pulse: 125, consciousness: 'A', temperature: 38.5 },
  { patient_id: 'node-zero', observed_at: observedAt, resp_rate: 16, spo2: 97, on_oxygen: false, systolic_bp: 125,
    pulse: 70, consciousness: 'A', temperature: 37.0 },
  { patient_id: 'node-bad', observed_at: observedAt, resp_rate: 16, spo2: 140, on_oxygen: false, systolic_bp: 125,
    pulse: 70, consciousness: 'A', temperature: 37.0 },
];

function rowsOf(table) {
  return table.toArray().map((row) => ({
    patient_id: row.patient_id,
    observed_at: row.observed_at == null ? null : new Date(Number(row.observed_at)).toISOString(),
    news2_total: row.news2_total,
    news2_band: row.news2_band,
    reject_reason: row.reject_reason,
  }));
}

async function main() {
  // Credentials as the varde command takes them from the environment (docs/security.md).
  const env = process.env;
  const client = varde.connect(address, {
    deadlineSeconds: 120,
    tlsCa: env.VARDE_TLS_CA,
    tlsCert: env.VARDE_CLIENT_TLS_CERT,
    tlsKey: env.VARDE_CLIENT_TLS_KEY,
    tokenFile: env.VARDE_TOKEN_FILE,
  });
  const out = {};
  try {
    const info = await varde.serverInfo(client);
    out.server = { version: info.version, max_message_bytes: info.max_message_bytes };

    const table = varde.observationTable(ROWS);
    out.input_schema = table.schema.fields.map(String);
    const batchId = `node-smoke-${crypto.randomUUID()}`;
    const scored = await varde.scoreTable(client, table, batchId);
    const reply = scored.replies[0];
    out.score = {
      batch_ids: scored.replies.map((r) => r.batch_id),
      summary: reply.summary,
      flags_raised: reply.flags_raised,
      flags_updated: reply.flags_updated,
      flags_replayed: reply.flags_replayed,
      rows: rowsOf(scored.table),
      columns: scored.table.schema.fields.map((f) => f.name),
    };
    expect('batch ids', out.score.batch_ids, [`${batchId}/0`]);
    expect('rows', reply.summary.rows, 3);
    expect('scored', reply.summary.scored, 2);
    expect('rejected', reply.summary.rejected, 1);
    expect('rejected_by_reason', reply.summary.rejected_by_reason, { SPO2_OUT_OF_RANGE: 1 });
    expect('bands', Object.entries(reply.summary.bands).sort(), [['HIGH', 1], ['ZERO', 1]]);
    expect('row bands', out.score.rows.map((r) => r.news2_band), ['HIGH', 'ZERO', null]);
    expect('row totals', out.score.rows.map((r) => r.news2_total), [11, 0, null]);
    expect('reject reasons', out.score.rows.map((r) => r.reject_reason), [null, null, 'SPO2_OUT_OF_RANGE']);
    expect('observed_at round trip', out.score.rows[0].observed_at, observedAt.toISOString());
    // Raised on a fresh queue; folded into the open flag (updated) when the patient already has one.
    expect('HIGH row flagged', reply.flags_raised + reply.flags_updated > 0, true);

    // A retry of the same batch: scored again, but its flags are not raised a second time.
    const again = await varde.scoreTable(client, table, batchId);
    out.replay = { flags_raised: again.replies[0].flags_raised, flags_replayed: again.replies[0].flags_replayed };
    expect('replay', out.replay, { flags_raised: 0, flags_replayed: true });

    // What apache-arrow makes by itself: strings dictionary-encoded, columns without nulls non-nullable.
    const inferred = arrow.tableFromArrays({
      patient_id: ['node-inferred'], resp_rate: [18], spo2: [96], on_oxygen: [false], systolic_bp: [120],
      pulse: [80], consciousness: ['V'], temperature: [37.2],
    });
    const dict = await varde.scoreTable(client, inferred, `${batchId}-inferred`);
    out.inferred = { schema: inferred.schema.fields.map(String), rows: rowsOf(dict.table) };
    expect('inferred table', out.inferred.rows.map((r) => [r.news2_total, r.news2_band]), [[3, 'LOW_MEDIUM']]);

    const assessment = await varde.push(client, {
      patient_id: 'node-push', resp_rate: 22, spo2: 95, on_oxygen: false, systolic_bp: 118, pulse: 96,
      consciousness: 'A', temperature: 38.4, observed_at: observedAt, source: 'node-smoke',
    });
    out.push = {
      total: assessment.total,
      band: assessment.band,
      reject_reason: assessment.reject_reason,
      complete: assessment.complete,
      monitoring: assessment.monitoring,
      flag_ids: assessment.flag_ids,
    };
    expect('push total', assessment.total, 5);
    expect('push band', assessment.band, 'BAND_MEDIUM');
    expect('push reject_reason', assessment.reject_reason, '');
  } finally {
    client.close();
  }
  out.mismatches = mismatches;
  console.log(JSON.stringify(out, null, 2));
  if (mismatches.length) {
    console.error(`${mismatches.length} mismatch(es):\n${mismatches.join('\n')}`);
    process.exit(1);
  }
}

main().catch((err) => {
  console.error(`smoke test failed: ${err.code !== undefined ? `gRPC ${err.code} ` : ''}${err.details || err.stack}`);
  process.exit(1);
});
