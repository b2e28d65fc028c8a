// The README's flow for a front end on another origin, as an app would write it.
// mode=cookie: session cookie + X-CSRFToken from /csrf/ (read again after logging in).
// mode=token: an API token created from the session, then Authorization: Bearer only.
(async function () {
  "use strict";
  const query = new URLSearchParams(location.search);
  const API = query.get("api");
  const email = query.get("email");
  const password = "a long passphrase 42";
  const steps = [];
  const out = document.getElementById("result");

  async function csrfToken() {
    const answer = await fetch(`${API}/csrf/`, { credentials: "include" });
    return (await answer.json()).csrfToken;
  }

  async function withSession(document, variables) {
    const answer = await fetch(`${API}/graphql/`, {
      method: "POST",
      credentials: "include",
      headers: { "Content-Type": "application/json", "X-CSRFToken": await csrfToken() },
      body: JSON.stringify({ query: document, variables: variables || {} }),
    });
    return { status: answer.status, body: await answer.json() };
  }

  async function withToken(secret, document, variables) {
    const answer = await fetch(`${API}/graphql/`, {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${secret}` },
      body: JSON.stringify({ query: document, variables: variables || {} }),
    });
    return { status: answer.status, body: await answer.json() };
  }

  const REGISTER = `mutation ($email: String!, $password: String!) {
    register(input: {email: $email, password: $password, timezone: "Europe/Paris"}) {
      user { id email } errors { field message code } } }`;
  const CREATE = `mutation ($title: String!) {
    taskCreate(input: {title: $title, scheduledAt: "2030-01-31T09:00:00+01:00"}) {
      task { id title scheduledAt } errors { field message code } } }`;
  const LIST = `{ tasks(first: 20, order: [{field: SCHEDULED_AT}]) {
    totalCount edges { node { id title scheduledAt } } } }`;

  try {
    steps.push(["register", await withSession(REGISTER, { email, password })]);
    if (query.get("mode") === "token") {
      const created = await withSession(
        `mutation { apiTokenCreate(input: {name: "spa", scopes: [READ, WRITE]}) {
          secret errors { code } } }`,
      );
      steps.push(["apiTokenCreate", created]);
      const secret = created.body.data.apiTokenCreate.secret;
      steps.push(["logout", await withSession("mutation { logout { ok } }")]);
      steps.push(["taskCreate", await withToken(secret, CREATE, { title: "From the app" })]);
      steps.push(["tasks", await withToken(secret, LIST)]);
      steps.push(["me", await withToken(secret, "{ me { email } }")]);
    } else {
      steps.push(["taskCreate", await withSession(CREATE, { title: "From the app" })]);
      steps.push(["tasks", await withSession(LIST)]);
      steps.push(["me", await withSession("{ me { email } }")]);
    }
    out.textContent = JSON.stringify(steps);
    out.dataset.state = "done";
  } catch (error) {
    out.textContent = String(error);
    out.dataset.state = "failed";
  }
})();
