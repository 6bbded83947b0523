import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkCallbackUrl } from '../../api/services/callback-url.ts';
import { ServiceError, errorBody } from '../../shared/errors.ts';
import { parseAllowedHosts } from '../../shared/webhook-url.ts';

const HOSTS = 'hooks.example.com, 127.0.0.1:9000, [::1]';

function refusal(url: string, allowed: string | undefined): ServiceError {
  try {
    checkCallbackUrl(url, { WEBHOOK_ALLOWED_HOSTS: allowed });
  } catch (error) {
    assert.ok(error instanceof ServiceError);
    assert.equal(error.status, 400);
    return error;
  }
  assert.fail(`${url} was accepted`);
}

test('the allow list: hosts with or without a port, case-insensitive, IPv6 in brackets', () => {
  assert.deepEqual(parseAllowedHosts(' Hooks.Example.com ,127.0.0.1:9000,[::1]:80 '), [
    { hostname: 'hooks.example.com' },
    { hostname: '127.0.0.1', port: '9000' },
    { hostname: '[::1]', port: '80' },
  ]);
  assert.deepEqual(parseAllowedHosts(undefined), []);
});

test('allowed callback URLs are accepted, normalised', () => {
  assert.equal(checkCallbackUrl('https://HOOKS.example.com/done?x=1', { WEBHOOK_ALLOWED_HOSTS: HOSTS }), 'https://hooks.example.com/done?x=1');
  assert.equal(checkCallbackUrl('http://hooks.example.com:8443/x', { WEBHOOK_ALLOWED_HOSTS: HOSTS }), 'http://hooks.example.com:8443/x');
  assert.equal(checkCallbackUrl('http://127.0.0.1:9000/hook', { WEBHOOK_ALLOWED_HOSTS: HOSTS }), 'http://127.0.0.1:9000/hook');
  assert.equal(checkCallbackUrl('http://[::1]:7000/', { WEBHOOK_ALLOWED_HOSTS: HOSTS }), 'http://[::1]:7000/');
});

test('with WEBHOOK_ALLOWED_HOSTS unset every callback_url is refused with a 400 that says why', () => {
  const error = refusal('https://hooks.example.com/done', undefined);
  assert.equal(error.code, 'CALLBACK_NOT_ALLOWED');
  assert.match(error.message, /WEBHOOK_ALLOWED_HOSTS is not set/);
  assert.deepEqual(errorBody(error), {
    error: { code: 'CALLBACK_NOT_ALLOWED', message: error.message, details: { field: 'callback_url' } },
  });
});

test('a host outside the list, or the wrong port of a host:port entry, is refused', () => {
  for (const url of ['https://evil.example.com/x', 'https://hooks.example.com.evil.io/', 'http://127.0.0.1:9001/hook', 'http://127.0.0.1/hook']) {
    const error = refusal(url, HOSTS);
    assert.equal(error.code, 'CALLBACK_NOT_ALLOWED', url);
    assert.match(error.message, /not in this server's WEBHOOK_ALLOWED_HOSTS/);
  }
});

test('not http(s), not absolute, too long, or with credentials: INVALID_CALLBACK_URL', () => {
  const cases: [string, RegExp][] = [
    ['ftp://hooks.example.com/x', /http or https/],
    ['file:///etc/passwd', /http or https/],
    ['/relative/path', /absolute URL/],
    ['https://user:secret@hooks.example.com/x', /credentials/],
    ['https://user@hooks.example.com/x', /credentials/],
    [`https://hooks.example.com/${'x'.repeat(2_100)}`, /longer than/],
  ];
  for (const [url, why] of cases) {
    const error = refusal(url, HOSTS);
    assert.equal(error.code, 'INVALID_CALLBACK_URL', url);
    assert.match(error.message, why);
  }
});
