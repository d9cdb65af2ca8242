// The one write to the API from any page: JSON (or a FormData upload, sent as it is), with the
// API token when the service has one; on a 401 the page asks for the token once and keeps it in
// this browser. app.js, import.js, the onboarding and categories pages all write through it.
// Once readers are made the page is a signed-in reader's (the sign-out form shows it): their
// HttpOnly cookie carries their token, no token is kept here, and a 401 means signing in again.
(function () {
  const signedIn = document.querySelector("form.signed-in");
  if (!signedIn) return;
  localStorage.removeItem("arxiv-reco-token");
})();

window.arxivRecoWrite = async function (method, url, body) {
  const TOKEN_KEY = "arxiv-reco-token";
  const form = body instanceof FormData;
  const signedIn = document.querySelector("form.signed-in") !== null;
  for (let attempt = 0; attempt < 2; attempt++) {
    const headers = form ? {} : { "Content-Type": "application/json" };
    const token = signedIn ? null : localStorage.getItem(TOKEN_KEY);
    if (token) headers["Authorization"] = "Bearer " + token;
    const response = await fetch(url, {
      method, headers, body: body === undefined || form ? body : JSON.stringify(body),
    });
    if (response.status !== 401) return response;
    if (signedIn) {
      window.location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
      return response;
    }
    const given = window.prompt("This service needs its API token to save changes (`arxiv-reco token` on the server prints it):");
    if (!given) return response;
    localStorage.setItem(TOKEN_KEY, given.trim());
  }
  return null;
};

// The detail of an API error as one sentence: a 422's list of messages, or the detail itself.
window.arxivRecoProblem = async function (response) {
  if (!response) return "no answer from the service";
  try {
    const detail = (await response.json()).detail;
    if (Array.isArray(detail)) return detail.map((d) => d.msg.replace(/^Value error, /, "")).join("; ");
    return String(detail);
  } catch (error) {
    return "the service answered " + response.status;
  }
};
