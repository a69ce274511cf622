// Unit tests of what the SDK leaves behind on the host page and of how both
// clients read the close-code table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reconnects, closeName } from '../shared/closecodes';
import { patchHistory } from '../sdk/pauses';
import { useDOM } from './dom';

test('history methods are the page\'s own again once sharing ends', () => {
  useDOM('<!doctype html><p>x</p>');
  const push = history.pushState;
  const replace = history.replaceState;
  let seen = 0;
  const undo = patchHistory(() => { seen++; });
  assert.notEqual(history.pushState, push);
  history.pushState(null, '', '/a');
  history.replaceState(null, '', '/b');
  assert.equal(seen, 2);
  undo();
  assert.equal(history.pushState, push);
  assert.equal(history.replaceState, replace);
  history.pushState(null, '', '/c');
  assert.equal(seen, 2, 'no more calls after undo');
  assert.equal(location.pathname, '/c');
});

test('a wrapper the page added on top of ours stays, and ours goes quiet', () => {
  useDOM('<!doctype html><p>x</p>');
  let seen = 0;
  const undo = patchHistory(() => { seen++; });
  const ours = history.pushState;
  let pageSaw = 0;
  history.pushState = function (this: History, ...args: Parameters<History['pushState']>) { pageSaw++; return ours.apply(this, args); };
  const pages = history.pushState;
  undo();
  assert.equal(history.pushState, pages, 'the page\'s wrapper must not be removed');
  history.pushState(null, '', '/d');
  assert.equal(pageSaw, 1);
  assert.equal(seen, 0);
});

test('refusals do not reconnect; network trouble and unknown codes do', () => {
  for (const code of [4000, 4001, 4003, 4009, 4400, 4413, 4429, 1003, 1009]) assert.equal(reconnects(code), false, String(code));
  for (const code of [4100, 1000, 1001, 1006, 1011, 4999]) assert.equal(reconnects(code), true, String(code));
  assert.equal(closeName(4413), 'too_large');
  assert.equal(closeName(4999), 'closed');
});
