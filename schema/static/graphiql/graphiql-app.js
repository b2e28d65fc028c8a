// GraphiQL for /graphql/, with no inline script: the page's Content-Security-Policy allows
// scripts from this site only. The server passes its settings in a JSON block
// (#graphiql-config): the endpoint, the CSRF cookie's name and the default tabs.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("graphiql-config").textContent);
  // Read by the vendored graphiql.min.js when a dialog inserts its style element.
  window.graphiqlStyleNonce = config.styleNonce;

  function cookie(name) {
    for (const part of document.cookie.split(";")) {
      const eq = part.indexOf("=");
      if (eq >= 0 && part.slice(0, eq).trim() === name) {
        return decodeURIComponent(part.slice(eq + 1).trim());
      }
    }
    return null;
  }

  // GraphiQL 3 keeps the last named operation it parsed when the editor then holds only
  // anonymous ones (or another tab's), and the server refuses the stale name.
  function namesAnOperationIn(query, name) {
    try {
      return GraphiQL.GraphQL.parse(query).definitions.some(
        (definition) =>
          definition.kind === "OperationDefinition" &&
          definition.name &&
          definition.name.value === name,
      );
    } catch (error) {
      return true; // unparseable: let the server say why
    }
  }

  // The CSRF token is read again for every request: logging in or out rotates it, and the
  // next mutation must send the new one without a reload.
  async function fetcher(params, options) {
    if (params.operationName && !namesAnOperationIn(params.query, params.operationName)) {
      params = { ...params, operationName: null };
    }
    const headers = {
      "Content-Type": "application/json",
      Accept: "application/json",
      ...((options && options.headers) || {}),
    };
    const token = cookie(config.csrfCookieName);
    if (token && !("X-CSRFToken" in headers)) {
      headers["X-CSRFToken"] = token;
    }
    const response = await fetch(config.endpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: headers,
      body: JSON.stringify(params),
    });
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch (error) {
      return { errors: [{ message: `HTTP ${response.status}: ${text.slice(0, 500)}` }] };
    }
  }

  const explorer = GraphiQLPluginExplorer.explorerPlugin();

  function App() {
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultTabs: config.defaultTabs,
      defaultQuery: "# Type an operation; run it with Ctrl-Enter or the play button.\n",
      plugins: [explorer],
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
      // A link's operation (?q=...&variables=..., e.g. a reminder email's) replaces the
      // editor's contents once; without one the editor keeps what the user had.
      ...(config.query ? { query: config.query, variables: config.variables || undefined } : {}),
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(App));
})();
