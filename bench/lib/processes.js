'use strict';
// Servers and workers as OS processes of their own, and what /proc tells about them.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A Node script as its own process; its output goes to `<logDir>/<name>.log` (the harness spends no CPU on it). */
function spawnProcess(name, script, env, logDir, args = []) {
  const logFile = path.join(logDir, `${name}.log`);
  const fd = fs.openSync(logFile, 'w');
  const child = spawn(process.execPath, [script, ...args], { env: { ...env, NO_COLOR: '1' }, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    name,
    pid: child.pid,
    logFile,
    exited,
    running,
    tail: () => {
      try {
        return fs.readFileSync(logFile, 'utf8').slice(-4000);
      } catch {
        return '';
      }
    },
    async stop() {
      if (!running()) {
        return exited;
      }
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Waits until `url` answers 2xx (any answer when `anyStatus`), failing early if the process exits. */
async function waitForHttp(url, proc, { timeoutMs = 60_000, anyStatus = false } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!proc.running()) {
      throw new Error(`${proc.name} exited before answering ${url}:\n${proc.tail()}`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (anyStatus || response.ok) {
        return;
      }
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`${proc.name} did not answer ${url} within ${timeoutMs} ms:\n${proc.tail()}`);
}

/** Waits until the process's log holds `line` (a baseline prints `ready`), failing early if it exits. */
async function waitForLine(proc, line, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!proc.tail().includes(line)) {
    if (!proc.running()) {
      throw new Error(`${proc.name} exited:\n${proc.tail()}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`${proc.name} not ready:\n${proc.tail()}`);
    }
    await sleep(100);
  }
}

function procStatFields(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return { comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), fields: stat.slice(stat.lastIndexOf(')') + 2).split(' ') };
}

/** The process and its descendants alive now (a worker's operation processes), by pid. */
function processTree(pid) {
  const children = new Map();
  for (const entry of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const parent = procStatFields(entry).fields[1];
      children.set(parent, [...(children.get(parent) ?? []), entry]);
    } catch {
      // exited while listed
    }
  }
  const tree = [String(pid)];
  for (let i = 0; i < tree.length; i++) {
    tree.push(...(children.get(tree[i]) ?? []));
  }
  return tree;
}

/**
 * User + system CPU time so far of a process with its descendants, in ms (Linux /proc; null elsewhere):
 * the live ones' own time, and the time of those it has reaped (cutime + cstime). USER_HZ is 100.
 */
function cpuMs(pid) {
  try {
    const own = procStatFields(pid).fields;
    let ticks = Number(own[13]) + Number(own[14]);
    for (const member of processTree(pid)) {
      try {
        const { fields } = procStatFields(member);
        ticks += Number(fields[11]) + Number(fields[12]);
      } catch {
        // exited while summed: its time moves to its parent's cutime at the next reading
      }
    }
    return (ticks * 1000) / 100;
  } catch {
    return null;
  }
}

/** User + system CPU time so far of the process alone (not its descendants), in ms; null once it is gone. */
function ownCpuMs(pid) {
  try {
    const { fields } = procStatFields(pid);
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

/**
 * What a process and its live descendants asked of the kernel so far: read and write system calls (/proc/<pid>/io
 * syscr, syscw) and context switches, voluntary (it waited) and involuntary (it was preempted).
 */
function kernelActivity(pid) {
  const total = { reads: 0, writes: 0, waits: 0, preemptions: 0 };
  for (const member of processTree(pid)) {
    try {
      const io = fs.readFileSync(`/proc/${member}/io`, 'utf8');
      const status = fs.readFileSync(`/proc/${member}/status`, 'utf8');
      total.reads += Number(/^syscr: (\d+)/m.exec(io)[1]);
      total.writes += Number(/^syscw: (\d+)/m.exec(io)[1]);
      total.waits += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)[1]);
      total.preemptions += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)[1]);
    } catch {
      // exited while summed
    }
  }
  return total;
}

/** CPU time so far of the PostgreSQL and Redis server processes on this machine (exited backends included), in ms. */
function backendCpuMs() {
  const totals = { postgres: 0, redis: 0 };
  let entries;
  try {
    entries = fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return null;
  }
  for (const pid of entries) {
    try {
      const { comm, fields } = procStatFields(pid);
      const kind = comm === 'postgres' || comm.startsWith('postgres:') ? 'postgres' : comm.startsWith('redis-server') ? 'redis' : null;
      if (!kind) {
        continue;
      }
      // utime + stime, plus cutime + cstime: the postmaster collects the time of backends that have exited.
      totals[kind] += ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1000) / 100;
    } catch {
      // the process ended meanwhile
    }
  }
  return totals;
}

/**
 * VmRSS and VmHWM (peak RSS) of a process with its live descendants (a worker's operation processes),
 * summed, in bytes; null once the process is gone. The summed peaks bound the tree's peak from above.
 */
function memoryOf(pid) {
  const read = (member) => {
    const status = fs.readFileSync(`/proc/${member}/status`, 'utf8');
    const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  };
  let total;
  try {
    total = read(pid);
  } catch {
    return null;
  }
  for (const member of processTree(pid).slice(1)) {
    try {
      const { rss, hwm } = read(member);
      total.rss += rss;
      total.hwm += hwm;
    } catch {
      // exited while summed
    }
  }
  return total;
}

/*
 * The memory a process and its live descendants hold together is anonymousMemoryOf + mappedFilesOf: every
 * member's anonymous memory, plus each mapped file once (a worker and its operation processes map the same
 * node binary and libraries, which summed RSS counts in each). Page cache and kernel buffers are not in it.
 */

/** RssAnon + RssShmem of a process and its live descendants, summed, in bytes; null once the process is gone. */
function anonymousMemoryOf(pid) {
  let total = null;
  for (const member of processTree(pid)) {
    try {
      const status = fs.readFileSync(`/proc/${member}/status`, 'utf8');
      const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
      total = (total ?? 0) + kb('RssAnon') + kb('RssShmem');
    } catch {
      if (member === String(pid)) {
        return null;
      }
      // exited while summed
    }
  }
  return total;
}

/**
 * The resident file-backed pages of a process and its live descendants, each file counted once (the most any
 * member has of it: a lower bound of their union), in bytes. Reads every member's smaps: milliseconds, so
 * sample it less often than anonymousMemoryOf.
 */
function mappedFilesOf(pid) {
  const fileBytes = new Map();
  for (const member of processTree(pid)) {
    let smaps;
    try {
      smaps = fs.readFileSync(`/proc/${member}/smaps`, 'utf8');
    } catch {
      continue; // exited
    }
    const mine = new Map();
    let file = null;
    let rss = 0;
    for (const line of smaps.split('\n')) {
      const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
      if (mapping) {
        file = mapping[1] !== '0' && mapping[2].startsWith('/') ? mapping[2] : null;
      } else if (line.startsWith('Rss:')) {
        rss = Number(line.split(/\s+/)[1]) * 1024;
      } else if (file && line.startsWith('Anonymous:')) {
        // A private page written to is anonymous memory, counted by anonymousMemoryOf.
        mine.set(file, (mine.get(file) ?? 0) + rss - Number(line.split(/\s+/)[1]) * 1024);
      }
    }
    for (const [path, bytes] of mine) {
      fileBytes.set(path, Math.max(fileBytes.get(path) ?? 0, bytes));
    }
  }
  return [...fileBytes.values()].reduce((sum, bytes) => sum + bytes, 0);
}

module.exports = {
  waitForLine,
  sleep,
  freePort,
  spawnProcess,
  waitForHttp,
  cpuMs,
  ownCpuMs,
  kernelActivity,
  backendCpuMs,
  memoryOf,
  anonymousMemoryOf,
  mappedFilesOf,
};
