// Vibe's service worker: an offline shell for browsing what was already loaded.
//
// - The app shell (index.html, manifest, icon) is cached at install; hashed assets (/assets/…) are cached
//   the first time they load and then served from the cache (their names change with their content).
// - Page navigations go to the network first and fall back to the cached shell, so the client's routes
//   open offline.
// - GET requests to the API go to the network first; each successful answer is kept, and served when
//   the network is gone. Nothing else (writes, the WebSocket, the apps under /apps/) is touched.
// - The page posts 'clear-api' on log out, so another person on the device does not see the cache.
const SHELL = 'vibe-shell-v1';
const API = 'vibe-api-v1';
const SHELL_FILES = ['/', '/index.html', '/manifest.webmanifest', '/icon.svg'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(SHELL_FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== SHELL && k !== API).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('message', (event) => {
  if (event.data === 'clear-api') event.waitUntil(caches.delete(API));
});

async function networkFirst(request, cacheName, fallbackUrl) {
  const cache = await caches.open(cacheName);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(fallbackUrl ?? request, response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match(fallbackUrl ?? request);
    if (cached) return cached;
    throw error;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(SHELL);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === '/api/ws' || url.pathname.startsWith('/apps/')) return;
  if (url.pathname.startsWith('/api/')) {
    event.respondWith(networkFirst(request, API));
  } else if (request.mode === 'navigate') {
    event.respondWith(networkFirst(request, SHELL, '/index.html'));
  } else if (url.pathname.startsWith('/assets/')) {
    event.respondWith(cacheFirst(request));
  }
});
