// Starts Swagger UI on /docs (pathway/api/docs.py). A file of its own, not an inline script, so the page
// keeps the security policy every response carries (script-src 'self'); the page says where the API's
// document is in data-openapi-url.
(function () {
  "use strict";
  var box = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: box.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,  // Swagger UI would send the document to a public validator for its badge: not here
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]
  });
})();
