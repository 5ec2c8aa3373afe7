// The PouchDB side of the end-to-end sync benchmark (docs/benchmarks.md, "Sync end to end"):
// the same session records as bench/sync_bench.cpp, written to a fresh client PouchDB (LevelDB),
// replicated to a fresh express-pouchdb server in another process over loopback, then no-op
// replications. Reports what relais_sync_bench reports.
//
//   npm install && node bench.js [--records N] [--batch-size N] [--dir PATH]
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { fork } = require('child_process');

function option(name, fallback) {
  const at = process.argv.indexOf(name);
  return at > 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

// Peak resident memory (VmHWM) of this process, in MB.
function peakMemoryMb() {
  const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
  return Number(line.replace(/[^0-9]/g, '')) / 1024;
}

function cpuSeconds() {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

// [The server] express-pouchdb on a loopback port; counts the bytes of every connection.
function serve(dir) {
  const PouchDB = require('pouchdb-node').defaults({ prefix: dir + path.sep });
  const app = require('express')();
  app.use('/', require('express-pouchdb')(PouchDB, { mode: 'minimumForPouchDB', logPath: path.join(dir, 'log.txt') }));
  let read = 0;
  let written = 0;
  const open = new Set();
  const server = app.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  server.on('connection', (socket) => {
    open.add(socket);
    socket.on('close', () => {
      read += socket.bytesRead;
      written += socket.bytesWritten;
      open.delete(socket);
    });
  });
  process.on('message', (message) => {
    if (message !== 'report') return;
    let liveRead = 0;
    let liveWritten = 0;
    for (const socket of open) {
      liveRead += socket.bytesRead;
      liveWritten += socket.bytesWritten;
    }
    process.send({ read: read + liveRead, written: written + liveWritten, peak: peakMemoryMb(), cpu: cpuSeconds() });
  });
}

function ask(child, message) {
  return new Promise((resolve) => {
    child.once('message', resolve);
    child.send(message);
  });
}

// A session as relais_sync_bench makes it (the same fields, so about the same JSON).
function session(i) {
  return {
    _id: 'session-' + String(i).padStart(8, '0'),
    type: 'individuel',
    date: '2026-0' + (1 + (i % 9)) + '-1' + (i % 10),
    duree: 15 * (1 + (i % 8)),
    type_lieu: 'a_distance',
    materiel: ['ordinateur'],
    thematiques: ['email'],
    autonomie: 'partiellement_autonome',
    beneficiaire: { genre: 'non_communique', tranche_age: 'non_communique', statut_social: 'non_communique' },
  };
}

async function main() {
  const records = Number(option('--records', '100000'));
  const batchSize = Number(option('--batch-size', '100'));  // PouchDB's default
  const dir = option('--dir', fs.mkdtempSync(path.join(os.tmpdir(), 'relais-pouchdb-bench-')));
  fs.mkdirSync(path.join(dir, 'server'), { recursive: true });

  const server = fork(__filename, ['--serve', path.join(dir, 'server')]);
  const { port } = await new Promise((resolve) => server.once('message', resolve));
  const PouchDB = require('pouchdb-node');
  const local = new PouchDB(path.join(dir, 'client'));
  const remote = 'http://127.0.0.1:' + port + '/bench';
  await new PouchDB(remote).info();  // creates the database

  for (let done = 0; done < records; done += 1000) {
    const batch = [];
    for (let i = done; i < Math.min(done + 1000, records); ++i) batch.push(session(i));
    await local.bulkDocs(batch);
  }

  const before = await ask(server, 'report');
  const clientCpu = cpuSeconds();
  let start = process.hrtime.bigint();
  const result = await PouchDB.replicate(local, remote, { batch_size: batchSize });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.docs_written !== records) throw new Error('replicated ' + result.docs_written + ' of ' + records);
  const after = await ask(server, 'report');

  const noop = [];
  for (let i = 0; i < 20; ++i) {
    start = process.hrtime.bigint();
    await PouchDB.replicate(local, remote, { batch_size: batchSize });
    noop.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  noop.sort((a, b) => a - b);
  const last = await ask(server, 'report');

  const line = (label, value) => console.log(label.padEnd(31) + value);
  line('records pushed', records);
  line('push until written', seconds.toFixed(2) + ' s');
  line('rate', Math.round(records / seconds) + ' records/s');
  line('CPU during the sync: client', (cpuSeconds() - clientCpu).toFixed(2) + ' s, server ' + (after.cpu - before.cpu).toFixed(2) + ' s');
  line('bytes sent per record', ((after.read - before.read) / records).toFixed(1));
  line('bytes received per record', ((after.written - before.written) / records).toFixed(1));
  line('no-op sync (median of 20)', noop[10].toFixed(2) + ' ms');
  line('client peak memory', peakMemoryMb().toFixed(1) + ' MB');
  line('server peak memory', last.peak.toFixed(1) + ' MB');

  server.kill('SIGTERM');
  await local.close();
  if (!process.env.RELAIS_BENCH_KEEP) fs.rmSync(dir, { recursive: true, force: true });
}

if (process.argv[2] === '--serve') {
  serve(process.argv[3]);
} else {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
