#!/usr/bin/env node
// rtpmidi_peer: a third-party AppleMIDI session (the npm package `rtpmidi`, a Node.js
// implementation) standing in for a Mac, an iPad or Windows rtpMIDI in midimesh's integration
// tests. Driven by tests/integration/rtplab.py.
//
// Usage: node rtpmidi_peer.js --name NAME --port PORT [--invite HOST:PORT] [--modules DIR]
//   --port      its own session: control port PORT, data port PORT + 1
//   --invite    invite that session once listening (the library retries every 1.5 s, 40 times)
//   --modules   where `npm ci` installed tests/integration/rtpmidi/ (default $RTPMIDI_MODULES)
// Never publishes itself over mDNS. The library's log goes to stderr.
//
// Stdout: one JSON object per line:
//   {"event":"ready","port":P}                 listening on P and P + 1
//   {"event":"connected","name":N,"ssrc":S}    a session with N is up (invited or inviting)
//   {"event":"can_send","name":N}              the library now sends to N (see below)
//   {"event":"midi","hex":"903c64"}            one MIDI command received, in arrival order
//   {"event":"sent","bytes":B}                 answer to `send`: the datagram left the socket
//   {"event":"disconnected","name":N}          N ended the session (BY)
//   {"event":"bye"}                            answer to `bye`, just before exiting 0
//   {"event":"error","message":M}              a command failed; a socket error exits 2
// Stdin: one command per line:
//   send HEX    one MIDI message (e.g. "send 903c64"), sent at once in its own RTP packet
//   bye         end every session with BY, close the sockets and exit 0 (also at end of stdin)
//
// Quirks of rtpmidi 1.0.0 this script works around or the tests must know:
// - Stream.sendMessage silently drops everything until the library's own clock sync finished
//   (stream.latency and stream.timeDifference set). As the invited side it starts that sync only
//   after the inviter's CK2, so the inviter must also answer CK0s. Hence the can_send event.
// - Session.sendMessage loses Buffers (it only assigns `cmd` for non-Buffers) and sorts on a
//   field it never sets; this script builds the packet itself and hands it to each stream.
// - It picks the socket it sends from by the parity of the destination port: even ports get
//   its control socket, odd ones its data socket. Remote control ports must be even.
// - It drops a packet whose command list is one single-byte command (its parser's loop stops
//   one byte early), and cannot reassemble SysEx split across packets.
// - Its parser reads the name of an invitation with the terminating NUL; stripped here.
'use strict';

const path = require('path');
const readline = require('readline');
const { createRequire } = require('module');

function usage(message) {
  process.stderr.write(`rtpmidi_peer: ${message}\n`
    + 'usage: rtpmidi_peer.js --name NAME --port PORT [--invite HOST:PORT] [--modules DIR]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const options = { modules: process.env.RTPMIDI_MODULES };
  for (let i = 0; i < argv.length; i += 1) {
    const value = argv[i + 1];
    if (value === undefined) usage(`${argv[i]} needs a value`);
    switch (argv[i]) {
      case '--name': options.name = value; break;
      case '--port': options.port = Number(value); break;
      case '--invite': options.invite = value; break;
      case '--modules': options.modules = value; break;
      default: usage(`unknown argument ${argv[i]}`);
    }
    i += 1;
  }
  if (!options.name) usage('--name is required');
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65534) {
    usage('--port needs a port number below 65535');
  }
  if (!options.modules) usage('--modules or $RTPMIDI_MODULES is required');
  if (options.invite) {
    const m = /^(.+):(\d+)$/.exec(options.invite);
    if (!m) usage('--invite needs HOST:PORT');
    options.invite = { address: m[1], port: Number(m[2]) };
  }
  return options;
}

const options = parseArgs(process.argv.slice(2));
// Resolve the packages from where the fixture installed them, not from the source tree.
const load = createRequire(path.join(path.resolve(options.modules), 'package.json'));
const winston = load('winston');
// The library's logger, configured before the library loads: its mDNS module logs on load.
const logger = load('rtpmidi/src/logger');
logger.configure({
  level: process.env.RTPMIDI_PEER_LOG || 'info',
  format: winston.format.combine(
    winston.format.timestamp(),
    winston.format.printf((info) => `${info.timestamp} ${info.level}: ${info.message}`),
  ),
  transports: [new winston.transports.Console({ stderrLevels: Object.keys(logger.levels) })],
});
const { Session } = load('rtpmidi');

function emit(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function cleanName(name) {
  return String(name || '').replace(/\0/g, '');
}

const session = new Session(options.port, options.name, options.name, undefined, false);
const ready = new Set(); // streams announced with can_send

session.on('error', (error) => {
  emit({ event: 'error', message: String(error && error.message ? error.message : error) });
  process.exit(2);
});

session.on('ready', () => {
  emit({ event: 'ready', port: options.port });
  if (options.invite) session.connect(options.invite);
});

session.on('streamAdded', ({ stream }) => {
  emit({ event: 'connected', name: cleanName(stream.name), ssrc: stream.ssrc });
});

session.on('streamRemoved', ({ stream }) => {
  ready.delete(stream);
  emit({ event: 'disconnected', name: cleanName(stream.name) });
});

session.on('message', (deltaTime, message) => {
  emit({ event: 'midi', hex: Buffer.from(message).toString('hex') });
});

function sendable() {
  return session.streams.filter((s) => s.isConnected
    && s.latency !== null && s.timeDifference !== null);
}

// The library has no event for a finished clock sync: look for it.
const syncWatch = setInterval(() => {
  for (const stream of sendable()) {
    if (!ready.has(stream)) {
      ready.add(stream);
      emit({ event: 'can_send', name: cleanName(stream.name) });
    }
  }
}, 20);

function send(hex) {
  if (!/^([0-9a-fA-F]{2})+$/.test(hex)) {
    emit({ event: 'error', message: `send: not hex: ${hex}` });
    return;
  }
  const data = Buffer.from(hex, 'hex');
  const streams = sendable();
  if (streams.length === 0) {
    emit({ event: 'error', message: 'send: no session has finished its clock sync' });
    return;
  }
  let pending = streams.length;
  for (const stream of streams) {
    // What Session.flushQueue would build for one command.
    stream.sendMessage({ timestamp: session.now(), commands: [{ deltaTime: 0, data }] }, () => {
      pending -= 1;
      if (pending === 0) emit({ event: 'sent', bytes: data.length });
    });
  }
}

let ending = false;
function bye() {
  if (ending) return;
  ending = true;
  clearInterval(syncWatch);
  // Session.end sends BY on every stream, then closes both sockets; it never calls back if the
  // sockets were not both open yet.
  const done = () => {
    emit({ event: 'bye' });
    process.exit(0);
  };
  if (session.readyState === 2) session.end(done);
  else done();
}

const input = readline.createInterface({ input: process.stdin });
input.on('line', (line) => {
  const [command, ...args] = line.trim().split(/\s+/);
  if (command === 'send' && args.length === 1) send(args[0]);
  else if (command === 'bye') bye();
  else if (command) emit({ event: 'error', message: `unknown command: ${line}` });
});
input.on('close', bye);

session.start();
