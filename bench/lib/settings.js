'use strict';

/** A numeric BENCH_* setting from the environment; exits with a clear message when it is not a usable number. */
function positive(name, fallback, zeroAllowed = false) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (!zeroAllowed && value === 0)) {
    console.error(`${name} must be a ${zeroAllowed ? 'non-negative' : 'positive'} number, got ${raw}`);
    process.exit(2);
  }
  return value;
}

module.exports = { positive };
