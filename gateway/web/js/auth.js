// The operator's bearer token (http.ack_token) and name, asked once per browser session and kept
// in sessionStorage (gone when the tab closes). Needed to acknowledge alerts and send commands.
import { t } from "./i18n.js";

export function credentials() {
  const token = sessionStorage.getItem("token");
  const by = sessionStorage.getItem("operator");
  return token && by ? { token, by } : null;
}

export function forgetCredentials() {
  sessionStorage.removeItem("token");
}

/** The saved credentials, or asks for them in a dialog; null when the operator cancels. */
export function askCredentials(force = false) {
  const saved = credentials();
  if (saved && !force) return Promise.resolve(saved);
  return new Promise((resolve) => {
    const dlg = document.createElement("dialog");
    dlg.className = "auth-dialog";
    dlg.innerHTML = `<form method="dialog">
      <h2>${t("auth.title")}</h2>
      <p>${t("auth.explain")}</p>
      <label>${t("auth.operator")}<input name="by" id="auth-by" autocomplete="name" required maxlength="128"></label>
      <label>${t("auth.token")}<input name="token" id="auth-token" type="password" autocomplete="current-password" required></label>
      <div class="buttons">
        <button type="button" value="cancel" class="secondary" id="auth-cancel">${t("common.cancel")}</button>
        <button type="submit" value="ok" id="auth-ok">${t("common.ok")}</button>
      </div></form>`;
    document.body.appendChild(dlg);
    const by = dlg.querySelector("#auth-by");
    by.value = sessionStorage.getItem("operator") || "";
    const done = (v) => {
      dlg.close();
      dlg.remove();
      resolve(v);
    };
    dlg.querySelector("#auth-cancel").addEventListener("click", () => done(null));
    dlg.querySelector("form").addEventListener("submit", (e) => {
      e.preventDefault();
      const token = dlg.querySelector("#auth-token").value.trim();
      const name = by.value.trim();
      if (!token || !name) return;
      sessionStorage.setItem("token", token);
      sessionStorage.setItem("operator", name);
      done({ token, by: name });
    });
    dlg.addEventListener("cancel", () => done(null));
    dlg.showModal();
    (by.value ? dlg.querySelector("#auth-token") : by).focus();
  });
}
