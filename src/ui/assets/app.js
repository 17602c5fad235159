// The /ui page: submit objects, list them, and follow one live over Server-Sent Events.
// Plain ES2020, no build step. Every piece of data reaches the DOM through textContent or
// setAttribute, never as HTML.
'use strict';

(() => {
  const API = '/api/v1';
  const PAGE_SIZE = 20;
  const MAX_LIMIT = 100;
  const REFRESH_MS = 3000;
  const SETTLED = new Set(['completed', 'failed', 'cancelled']);
  const CANCELLABLE = new Set(['pending', 'queued', 'processing']);
  const LIVE_TEXT = {
    idle: '',
    connecting: 'connecting…',
    live: '● live',
    reconnecting: 'reconnecting…',
    settled: 'settled, stream closed',
    disconnected: 'disconnected',
  };

  // The API key lives in this tab's sessionStorage only: it is sent as a header, never put in a URL.
  const KEY_STORAGE = 'ops-api-key';
  // How many times in a row a closed stream is reopened with a fresh token before the page gives up and offers a button.
  const MAX_STREAM_RENEWALS = 3;

  const $ = (id) => document.getElementById(id);

  const apiKey = () => sessionStorage.getItem(KEY_STORAGE) || '';

  /** An element with attributes and children; strings become text nodes. */
  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === undefined || value === null || value === false) {
        continue;
      }
      node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children) {
      if (child !== undefined && child !== null) {
        node.append(child);
      }
    }
    return node;
  }

  function show(node, text, kind) {
    node.textContent = text;
    node.hidden = !text;
    if (kind) {
      node.dataset.kind = kind;
    } else {
      delete node.dataset.kind;
    }
    node.classList.toggle('error', kind === 'error');
    node.classList.toggle('ok', kind === 'ok');
  }

  class ApiError extends Error {
    constructor(message, status, body) {
      super(message);
      this.status = status;
      this.body = body;
    }
  }

  /** A JSON request to the API; failures carry the server's `message`. */
  async function api(path, { method = 'GET', body } = {}) {
    const headers = { accept: 'application/json' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
    }
    if (apiKey()) {
      headers.authorization = `Bearer ${apiKey()}`;
    }
    let response;
    try {
      response = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError('The service cannot be reached', 0, null);
    }
    const text = await response.text();
    let parsed = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
    }
    if (!response.ok) {
      const message = parsed && typeof parsed.message === 'string' ? parsed.message : `Request failed with status ${response.status}`;
      if (response.status === 401) {
        askForKey(message);
      }
      throw new ApiError(message, response.status, parsed);
    }
    return parsed;
  }

  const objectPath = (id) => `/objects/${encodeURIComponent(id)}`;

  // ---------------------------------------------------------------- API key

  function askForKey(reason) {
    const status = $('key-status');
    status.textContent = apiKey()
      ? `${reason}. Enter another key.`
      : 'This service wants an API key: paste the one npm start printed, or one from npm run keys.';
    status.dataset.kind = 'error';
  }

  function showKeyState() {
    const status = $('key-status');
    status.textContent = apiKey() ? 'Key in use for this tab.' : '';
    delete status.dataset.kind;
    $('forget-key-button').hidden = !apiKey();
  }

  function useKey(event) {
    event.preventDefault();
    const key = $('api-key').value.trim();
    if (!key) {
      return;
    }
    sessionStorage.setItem(KEY_STORAGE, key);
    $('api-key').value = '';
    showKeyState();
    list.pages = 1;
    list.items = [];
    void refreshList();
    const fromHash = decodeURIComponent(location.hash.slice(1));
    if (selected) {
      void connect();
    } else if (/^[0-9a-f-]{36}$/i.test(fromHash)) {
      openObject(fromHash);
    }
  }

  function forgetKey() {
    sessionStorage.removeItem(KEY_STORAGE);
    closeStream();
    showKeyState();
  }

  function formatTime(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? String(iso ?? '') : date.toLocaleString();
  }

  function formatDuration(ms) {
    if (typeof ms !== 'number') {
      return '';
    }
    return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
  }

  function badge(state, attributes = {}) {
    return el('span', { class: 'badge', 'data-state': state, ...attributes }, state);
  }

  function progressText(progress) {
    return progress ? `${progress.current}/${progress.total}` : '';
  }

  // ---------------------------------------------------------------- objects list

  const list = { items: [], nextCursor: null, pages: 1, loading: false, again: false, timer: null };

  function listQuery(extra) {
    const query = new URLSearchParams(extra);
    const state = $('state-filter').value;
    if (state) {
      query.set('state', state);
    }
    return `/objects?${query}`;
  }

  /** Reloads the pages already shown (up to the API's limit), keeping anything loaded beyond it. */
  async function refreshList() {
    if (list.loading) {
      // Asked for while another request is out: run once more when it is done.
      list.again = true;
      return;
    }
    list.loading = true;
    const limit = Math.min(MAX_LIMIT, PAGE_SIZE * list.pages);
    try {
      const page = await api(listQuery({ limit: String(limit) }));
      if (list.items.length > limit) {
        const fresh = new Set(page.items.map((item) => item.id));
        list.items = [...page.items, ...list.items.slice(limit).filter((item) => !fresh.has(item.id))];
      } else {
        list.items = page.items;
        list.nextCursor = page.next_cursor;
      }
      show($('objects-message'), '');
      renderList();
    } catch (error) {
      show($('objects-message'), error.message, 'error');
    } finally {
      list.loading = false;
      runAgainIfAsked();
    }
  }

  function runAgainIfAsked() {
    if (!list.again) {
      return;
    }
    list.again = false;
    void refreshList();
  }

  async function loadMore() {
    if (!list.nextCursor || list.loading) {
      return;
    }
    list.loading = true;
    $('load-more').disabled = true;
    try {
      const page = await api(listQuery({ limit: String(PAGE_SIZE), cursor: list.nextCursor }));
      const known = new Set(list.items.map((item) => item.id));
      list.items.push(...page.items.filter((item) => !known.has(item.id)));
      list.nextCursor = page.next_cursor;
      list.pages += 1;
      show($('objects-message'), '');
      renderList();
    } catch (error) {
      show($('objects-message'), error.message, 'error');
    } finally {
      list.loading = false;
      $('load-more').disabled = false;
      runAgainIfAsked();
    }
  }

  function renderList() {
    const body = $('objects-body');
    const focusedId = document.activeElement && body.contains(document.activeElement) ? document.activeElement.dataset.id : undefined;
    body.replaceChildren(...list.items.map(renderRow));
    if (focusedId) {
      const again = body.querySelector(`button[data-id="${CSS.escape(focusedId)}"]`);
      if (again) {
        again.focus();
      }
    }
    $('objects-empty').hidden = list.items.length > 0;
    $('load-more').hidden = !list.nextCursor;
  }

  function renderRow(item) {
    const selectedHere = selected && selected.id === item.id;
    return el(
      'tr',
      { 'data-id': item.id, 'aria-current': selectedHere ? 'true' : undefined, class: selectedHere ? 'selected' : undefined },
      el('td', {}, el('button', { type: 'button', class: 'link', 'data-id': item.id, title: `Open ${item.identifier}` }, item.identifier)),
      el('td', {}, badge(item.state)),
      el('td', { class: 'num', 'data-testid': 'row-progress' }, progressText(item.progress)),
      el('td', {}, el('time', { datetime: item.created_at }, formatTime(item.created_at))),
    );
  }

  /** Keeps the list row of the object being followed in step with its live events. */
  function patchRow(progress) {
    const item = list.items.find((candidate) => candidate.id === progress.id);
    if (!item) {
      return;
    }
    if (item.state === progress.state && progressText(item.progress) === progressText(progress.progress)) {
      return;
    }
    Object.assign(item, { state: progress.state, progress: progress.progress, current_operation: progress.current_operation });
    const row = $('objects-body').querySelector(`tr[data-id="${CSS.escape(progress.id)}"]`);
    if (row) {
      row.replaceWith(renderRow(item));
    }
  }

  // ---------------------------------------------------------------- detail panel

  /** The object being followed: its id, the open EventSource and what the page has shown. */
  let selected = null;

  function setLive(status) {
    const node = $('detail-live');
    node.dataset.live = status;
    node.textContent = LIVE_TEXT[status];
    $('reconnect-button').hidden = status !== 'disconnected';
  }

  function closeStream() {
    if (selected && selected.stream) {
      selected.stream.close();
      selected.stream = null;
    }
  }

  function openObject(id) {
    closeStream();
    selected = {
      id,
      stream: null,
      state: null,
      events: 0,
      states: [],
      artifactCount: -1,
      artifactsLoading: false,
      artifactsAgain: false,
      renewals: 0,
    };
    const detail = $('detail');
    detail.hidden = false;
    detail.dataset.objectId = id;
    detail.dataset.eventCount = '0';
    detail.dataset.states = '';
    $('detail-empty').hidden = true;
    $('detail-identifier').textContent = '';
    $('detail-id').textContent = id;
    setState('');
    $('detail-operation').textContent = '—';
    $('detail-progress').value = 0;
    $('detail-progress').max = 1;
    $('detail-progress-text').textContent = '';
    $('detail-message').textContent = '';
    show($('detail-error'), '');
    show($('action-message'), '');
    $('detail-operations-body').replaceChildren();
    $('detail-artifacts').replaceChildren();
    $('artifacts-message').textContent = '';
    updateButtons();
    if (location.hash !== `#${id}`) {
      history.replaceState(null, '', `#${id}`);
    }
    for (const row of $('objects-body').querySelectorAll('tr')) {
      const here = row.dataset.id === id;
      row.classList.toggle('selected', here);
      if (here) {
        row.setAttribute('aria-current', 'true');
      } else {
        row.removeAttribute('aria-current');
      }
    }
    void loadArtifacts();
    void connect();
  }

  /**
   * Follows the object through the browser's EventSource; closes it once the object settles (the server closes too, and EventSource would reconnect).
   * EventSource cannot send the key: the stream opens with a short-lived token for this object, asked for with the key.
   */
  async function connect() {
    if (!selected) {
      return;
    }
    closeStream();
    const target = selected;
    setLive('connecting');
    let streamUrl;
    try {
      streamUrl = (await api(`/progress/${encodeURIComponent(target.id)}/stream-token`, { method: 'POST' })).stream_url;
    } catch (error) {
      if (selected === target) {
        setLive('disconnected');
        show($('detail-error'), error.message, 'error');
      }
      return;
    }
    if (selected !== target || target.stream) {
      return;
    }
    const stream = new EventSource(streamUrl);
    target.stream = stream;
    stream.onopen = () => {
      if (target.stream === stream) {
        setLive('live');
      }
    };
    stream.addEventListener('progress', (event) => {
      if (target.stream !== stream) {
        return;
      }
      let progress;
      try {
        progress = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!progress || progress.id !== target.id) {
        return;
      }
      target.events += 1;
      target.renewals = 0;
      $('detail').dataset.eventCount = String(target.events);
      if (target.stream === stream) {
        setLive('live');
      }
      renderProgress(progress);
      if (SETTLED.has(progress.state)) {
        stream.close();
        target.stream = null;
        setLive('settled');
        void loadArtifacts();
        void refreshList();
      }
    });
    stream.onerror = () => {
      if (target.stream !== stream) {
        return;
      }
      if (stream.readyState === EventSource.CLOSED) {
        // Refused: the token may have expired while EventSource reconnected. Try a fresh one a few times, then say why.
        target.stream = null;
        if (target.renewals < MAX_STREAM_RENEWALS && !SETTLED.has(target.state)) {
          target.renewals += 1;
          void connect();
          return;
        }
        setLive('disconnected');
        void explainDisconnect(target);
      } else {
        setLive('reconnecting');
      }
    };
  }

  async function explainDisconnect(target) {
    try {
      const progress = await api(`/progress/${encodeURIComponent(target.id)}`);
      if (selected === target) {
        renderProgress(progress);
      }
    } catch (error) {
      if (selected === target) {
        show($('detail-error'), error.message, 'error');
      }
    }
  }

  function setState(state) {
    const node = $('detail-state');
    node.textContent = state;
    node.dataset.state = state;
    if (selected && state && selected.states[selected.states.length - 1] !== state) {
      selected.states.push(state);
      $('detail').dataset.states = selected.states.join(' ');
    }
  }

  /** Shows a progress document (from the stream, or an action's response). */
  function renderProgress(progress) {
    if (!selected || progress.id !== selected.id) {
      return;
    }
    selected.state = progress.state;
    $('detail-identifier').textContent = progress.identifier;
    setState(progress.state);
    $('detail-operation').textContent = progress.current_operation || '—';
    const counts = progress.progress || { current: 0, total: 0, message: '' };
    $('detail-progress').max = Math.max(1, counts.total);
    $('detail-progress').value = Math.min(counts.current, Math.max(1, counts.total));
    $('detail-progress-text').textContent = progressText(counts);
    $('detail-message').textContent = counts.message || '';
    show($('detail-error'), progress.error_message || '', progress.error_message ? 'error' : undefined);
    renderOperations(progress);
    updateButtons();
    patchRow(progress);
    const artifactCount = Object.keys(progress.s3_artifacts || {}).length;
    if (artifactCount !== selected.artifactCount && selected.artifactCount !== -1) {
      void loadArtifacts();
    }
    selected.artifactCount = artifactCount;
  }

  function operationStatus(name, status, progress) {
    if (status.completed) {
      return 'completed';
    }
    if (status.error) {
      return 'failed';
    }
    if (progress.state === 'processing' && progress.current_operation === name) {
      return 'running';
    }
    return 'pending';
  }

  function renderOperations(progress) {
    const rows = Object.entries(progress.operations_status || {}).map(([name, status]) => {
      const state = operationStatus(name, status, progress);
      return el(
        'tr',
        { 'data-operation': name, 'data-status': state },
        el('th', { scope: 'row' }, name),
        el('td', {}, badge(state)),
        el('td', { class: 'num' }, String(status.attempts ?? 0)),
        el('td', { class: 'num' }, formatDuration(status.duration_ms)),
        el('td', { class: 'error-text' }, status.error || ''),
      );
    });
    $('detail-operations-body').replaceChildren(...rows);
  }

  function updateButtons() {
    const state = selected ? selected.state : null;
    $('cancel-button').disabled = !state || !CANCELLABLE.has(state) || Boolean(selected.busy);
    $('retry-button').disabled = state !== 'failed' || Boolean(selected.busy);
  }

  /** Presigned links to every artifact; one request at a time, repeated if more were asked for meanwhile. */
  async function loadArtifacts() {
    const target = selected;
    if (!target) {
      return;
    }
    if (target.artifactsLoading) {
      target.artifactsAgain = true;
      return;
    }
    target.artifactsLoading = true;
    try {
      do {
        target.artifactsAgain = false;
        try {
          const response = await api(`${objectPath(target.id)}/artifacts`);
          if (selected === target) {
            renderArtifacts(response.artifacts || []);
          }
        } catch (error) {
          if (selected === target) {
            $('artifacts-message').textContent = error.message;
          }
        }
      } while (target.artifactsAgain && selected === target);
    } finally {
      target.artifactsLoading = false;
    }
  }

  function safeHref(url) {
    try {
      const parsed = new URL(url, location.href);
      return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
    } catch {
      return null;
    }
  }

  function renderArtifacts(artifacts) {
    const items = artifacts.map((artifact) => {
      const href = safeHref(artifact.url);
      const name = el('span', { class: 'artifact-operation' }, artifact.operation);
      const link = href
        ? el(
            'a',
            {
              href,
              target: '_blank',
              rel: 'noopener noreferrer',
              'data-testid': 'artifact-link',
              'data-operation': artifact.operation,
              'data-key': artifact.key,
            },
            artifact.key,
          )
        : el('span', {}, artifact.key);
      return el('li', { 'data-operation': artifact.operation }, name, ' ', link);
    });
    $('detail-artifacts').replaceChildren(...items);
    $('artifacts-message').textContent = items.length
      ? `${items.length} artifact${items.length === 1 ? '' : 's'}; links expire, reopen to renew.`
      : 'No artifacts yet.';
  }

  async function act(kind) {
    const target = selected;
    if (!target || target.busy) {
      return;
    }
    target.busy = true;
    updateButtons();
    show($('action-message'), '');
    try {
      const object = await api(`${objectPath(target.id)}/${kind}`, { method: 'POST' });
      if (selected !== target) {
        return;
      }
      show($('action-message'), kind === 'cancel' ? 'Cancellation requested.' : 'Queued again.', 'ok');
      renderProgress(object);
      // A retried object is active again: follow it afresh (the previous stream closed when it failed).
      if (!target.stream && !SETTLED.has(object.state)) {
        void connect();
      }
      void refreshList();
    } catch (error) {
      if (selected === target) {
        show($('action-message'), error.message, 'error');
      }
    } finally {
      target.busy = false;
      if (selected === target) {
        updateButtons();
      }
    }
  }

  // ---------------------------------------------------------------- submit form

  function readForm() {
    const identifier = $('identifier').value.trim();
    const operations = [...document.querySelectorAll('#submit-form input[name="operations"]:checked')].map((input) => input.value);
    const body = { identifier, operations };
    const payloadText = $('payload').value.trim();
    if (payloadText) {
      try {
        body.payload = JSON.parse(payloadText);
      } catch (error) {
        throw new Error(`Payload is not valid JSON: ${error.message}`, { cause: error });
      }
    }
    const format = $('export-format').value;
    if (format) {
      body.options = { export: { format } };
    }
    return body;
  }

  async function submit(event) {
    event.preventDefault();
    const message = $('form-message');
    let body;
    try {
      body = readForm();
    } catch (error) {
      show(message, error.message, 'error');
      $('payload').focus();
      return;
    }
    const button = $('submit-button');
    button.disabled = true;
    show(message, 'Submitting…');
    try {
      const created = await api('/process', { method: 'POST', body });
      show(message, `Queued ${created.identifier}.`, 'ok');
      $('identifier').value = '';
      openObject(created.id);
      await refreshList();
    } catch (error) {
      show(message, error.message, 'error');
    } finally {
      button.disabled = false;
    }
  }

  // ---------------------------------------------------------------- wiring

  function start() {
    $('submit-form').addEventListener('submit', submit);
    $('refresh-button').addEventListener('click', () => void refreshList());
    $('state-filter').addEventListener('change', () => {
      list.pages = 1;
      list.items = [];
      void refreshList();
    });
    $('load-more').addEventListener('click', () => void loadMore());
    $('objects-body').addEventListener('click', (event) => {
      const button = event.target.closest('button[data-id]');
      if (button) {
        openObject(button.dataset.id);
      }
    });
    $('cancel-button').addEventListener('click', () => void act('cancel'));
    $('retry-button').addEventListener('click', () => void act('retry'));
    $('reconnect-button').addEventListener('click', () => {
      if (selected) {
        selected.renewals = 0;
      }
      void connect();
    });
    $('key-form').addEventListener('submit', useKey);
    $('key-button').disabled = false;
    $('forget-key-button').addEventListener('click', forgetKey);
    showKeyState();
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) {
        void refreshList();
      }
    });
    list.timer = setInterval(() => {
      if (!document.hidden) {
        void refreshList();
      }
    }, REFRESH_MS);
    window.addEventListener('pagehide', closeStream);
    window.addEventListener('pageshow', (event) => {
      if (event.persisted && selected && !SETTLED.has(selected.state)) {
        void connect();
      }
    });

    void begin();
  }

  /** Whether GET / says the API wants a key; when it cannot tell, the API's own answers will. */
  async function keyRequired() {
    try {
      const response = await fetch('/', { headers: { accept: 'application/json' } });
      return response.ok && (await response.json()).authentication === 'api_key';
    } catch {
      return false;
    }
  }

  /** Asks the service whether it wants a key first: without one, the page asks for it instead of collecting 401s. */
  async function begin() {
    if (!apiKey() && (await keyRequired())) {
      askForKey('');
      $('api-key').focus();
      return;
    }
    const fromHash = decodeURIComponent(location.hash.slice(1));
    if (/^[0-9a-f-]{36}$/i.test(fromHash)) {
      openObject(fromHash);
    }
    void refreshList();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
