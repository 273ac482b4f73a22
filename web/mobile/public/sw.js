/*
 * Minimal service worker for the 政钉 H5 app (installable PWA).
 * Only the app shell and its hashed assets are cached. API calls (/api/...), the WebSocket
 * (/ws) and downloads are never intercepted or cached: they carry personal data and tokens.
 */
const CACHE = 'zd-mobile-v1'
const SCOPE = self.registration.scope // .../m/

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll([SCOPE, SCOPE + 'manifest.webmanifest'])).catch(() => undefined))
  self.skipWaiting()
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  )
})

self.addEventListener('fetch', (event) => {
  const request = event.request
  if (request.method !== 'GET') return
  const url = new URL(request.url)
  if (url.origin !== self.location.origin) return
  if (!url.href.startsWith(SCOPE)) return // /api, /ws and everything outside /m/ go straight to the network

  if (request.mode === 'navigate') {
    // network first, so a deployed update is seen at once; the cached shell when offline
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok) {
            const copy = response.clone()
            caches.open(CACHE).then((cache) => cache.put(SCOPE, copy))
          }
          return response
        })
        .catch(() => caches.match(SCOPE).then((r) => r || Response.error())),
    )
    return
  }

  if (url.pathname.includes('/assets/')) {
    // hashed file names never change content: cache first
    event.respondWith(
      caches.match(request).then(
        (hit) =>
          hit ||
          fetch(request).then((response) => {
            if (response.ok) {
              const copy = response.clone()
              caches.open(CACHE).then((cache) => cache.put(request, copy))
            }
            return response
          }),
      ),
    )
  }
})
