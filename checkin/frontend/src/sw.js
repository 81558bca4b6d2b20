// Service worker of the door page: keeps the page and its script available offline, so a
// phone that reloads (or is restarted) in a dead zone still opens the scanner. API calls are
// never cached: online answers come from the server, offline ones from the page's own store.
const BUNDLE = "__DOOR_BUNDLE__"; // replaced by checkin.views.service_worker
const PAGE = "/scan/";
const CACHE = `varco-door-${BUNDLE}`;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll([PAGE, BUNDLE])));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === PAGE) {
    // Network first, so a new version arrives when online; the cached page otherwise.
    event.respondWith(
      fetch(request)
        .then((response) => {
          const copy = response.clone();
          if (response.ok) caches.open(CACHE).then((cache) => cache.put(PAGE, copy));
          return response;
        })
        .catch(() => caches.match(PAGE)),
    );
  } else if (url.pathname + url.search === BUNDLE) {
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
  }
});
