// Starts Swagger UI (flask-swagger-ui's bundled swagger-ui-dist) on our OpenAPI document.
// A file, not an inline script, so that the page's CSP needs no 'unsafe-inline' for scripts.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: false,
  });
});
