// The page's side of the double submit: read the (non-HttpOnly) CSRF cookie and send it
// back in a header. The JWT cookies themselves are HttpOnly: this script never sees a token.
"use strict";

function cookie(name) {
  for (const pair of document.cookie.split("; ")) {
    const [key, ...rest] = pair.split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

async function post(path, csrfCookie) {
  const headers = {};
  const csrf = csrfCookie && cookie(csrfCookie);
  if (csrf) headers["X-CSRF-TOKEN"] = csrf;
  const response = await fetch(path, {method: "POST", headers, credentials: "same-origin"});
  const text = await response.text();
  document.getElementById("result").textContent = response.status + " " + text;
  return response;
}

async function showStatus() {
  const response = await fetch("/api/me", {credentials: "same-origin"});
  const status = document.getElementById("status");
  if (response.ok) {
    status.textContent = "Logged in as " + (await response.json()).user;
  } else {
    status.textContent = "Not logged in";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("call").addEventListener("click", () => post("/api/data", "csrf_access_token"));
  document.getElementById("call-without-csrf").addEventListener("click", () => post("/api/data", null));
  document.getElementById("refresh").addEventListener("click", () => post("/token/refresh", "csrf_refresh_token"));
  document.getElementById("logout").addEventListener("click", async () => {
    await post("/logout", "csrf_access_token");
    await showStatus();
  });
  showStatus();
});
