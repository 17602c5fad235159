'use strict';
// The ~1 KB JSON payload of the workloads: an array of `records` flat records with strings (non-ASCII too), integers,
// numbers, booleans, nulls and timestamps; deterministic for an index.
const CITIES = ['Zürich', 'São Paulo', 'Kraków', 'Reykjavík', 'Osaka', 'Nairobi', 'Montréal', 'Lyon'];
const NAMES = ['Ada', 'Grace', 'Linus', 'Barbara', 'Ken', 'Margaret', 'Dennis', 'Frances'];

function jsonPayload(index, records = 9) {
  return Array.from({ length: records }, (_, row) => {
    const n = index * records + row;
    return {
      id: n,
      name: `${NAMES[n % NAMES.length]} ${String.fromCharCode(65 + (n % 26))}.`,
      city: CITIES[(n * 7) % CITIES.length],
      amount: n % 13 === 0 ? null : Math.round(((n * 37) % 10_000) * 1.37) / 100,
      flag: n % 3 === 0,
      created: new Date(Date.UTC(2024, 0, 1) + n * 3_600_000).toISOString(),
    };
  });
}

module.exports = { jsonPayload };
