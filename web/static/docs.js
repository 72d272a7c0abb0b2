// Starts Swagger UI on /docs (served from the package: no CDN, no inline script under the CSP).
// The schema URL and the session's CSRF token come from data attributes of #swagger-ui; the token
// goes with "Try it out" requests that change something, as the dashboard's own forms send it.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  var csrf = root.getAttribute("data-csrf") || "";
  window.SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    domNode: root,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    requestInterceptor: function (request) {
      var method = (request.method || "GET").toUpperCase();
      var sameOrigin = request.url.indexOf(window.location.origin) === 0 || request.url.charAt(0) === "/";
      if (csrf && sameOrigin && ["GET", "HEAD", "OPTIONS"].indexOf(method) === -1) {
        request.headers["X-CSRF-Token"] = csrf;
      }
      return request;
    },
  });
})();
