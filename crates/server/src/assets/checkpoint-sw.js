// The checkpoint page's service worker: the page, its script and styles
// are cached, so the page reloads with no network. Network first (fresh
// pages when online), the cache when the network fails. The trust and
// revocation lists are cached by the page itself (localStorage), and the
// verification needs no network at all.
'use strict';
var CACHE = 'hc-checkpoint-v1';
var PRECACHE = ['/checkpoint', '/checkpoint?lang=zh', '/checkpoint?lang=en',
  '/assets/checkpoint.js', '/assets/jsqr.js', '/assets/app.css'];

self.addEventListener('install', function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(PRECACHE.map(function (url) {
      return fetch(url, { cache: 'no-store' }).then(function (r) { if (r.ok) return cache.put(url, r); })
        .catch(function () { /* cached on a later visit */ });
    }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener('activate', function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n !== CACHE; }).map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

function cacheable(url) {
  return url.origin === self.location.origin &&
    (url.pathname === '/checkpoint' || url.pathname.indexOf('/assets/') === 0);
}

self.addEventListener('fetch', function (event) {
  var request = event.request;
  if (request.method !== 'GET') return;
  var url = new URL(request.url);
  if (!cacheable(url)) return;
  event.respondWith(fetch(request).then(function (response) {
    if (response.ok) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
    }
    return response;
  }).catch(function () {
    // caches.match resolves to undefined on a miss: fall back to the bare
    // page, then to a plain 503, never to an undefined response.
    return caches.match(request).then(function (hit) {
      return hit || caches.match('/checkpoint');
    }).then(function (hit) {
      return hit || new Response('offline / 离线，且本页尚未缓存', {
        status: 503, headers: { 'content-type': 'text/plain; charset=utf-8' } });
    });
  }));
});
