// Swagger UI from the project's own copy: /docs works on a closed network.
window.addEventListener("load", function () {
  "use strict";
  var holder = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: holder.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    // Deep links put a link inside each operation's button: nested controls for screen readers.
    deepLinking: false,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    // The schemas are read inside each operation; the separate list only repeats them.
    defaultModelsExpandDepth: -1,
    layout: "BaseLayout"
  });
});
