// The SDK's excluded-page globs answer the same cases as the server's
// (internal/policy/globcases.json, read by the Go tests too).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fixture from '../../internal/policy/globcases.json';
import { DEFAULT_POLICY, excluded } from '../sdk/policy';
import { MASK } from '../sdk/privacy';
import rules from '../../internal/privacy/rules.json';

test('excluded pages match the server, case by case', () => {
  const p = { ...DEFAULT_POLICY, excluded_pages: fixture.globs };
  for (const [url, want] of fixture.cases as [string, boolean][]) {
    assert.equal(excluded(p, url), want, url);
  }
});

test('the mask is the shared one', () => {
  assert.equal(MASK, rules.mask);
});
