// Portcullis: the WebAuthn ceremonies of the hosted pages. Each form with
// `data-options` fetches its options from the server (a form post with the
// page's CSRF token), runs the ceremony, and posts the browser's answer in
// the form's hidden `ceremony` and `response` fields. The pages work
// without it for everything but passkeys.
(function () {
  "use strict";
  if (!window.PublicKeyCredential) {
    return;
  }
  var status = document.getElementById("key-status");
  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }
  // webauthn-rs writes absent members as null; WebAuthn's parsers want
  // them left out.
  function clean(value) {
    return JSON.parse(JSON.stringify(value, function (key, v) {
      return v === null ? undefined : v;
    }));
  }
  async function options(form) {
    var body = new URLSearchParams();
    body.set("csrf_token", form.elements.csrf_token.value);
    var answer = await fetch(form.dataset.options, {
      method: "POST",
      body: body,
      credentials: "same-origin",
    });
    if (!answer.ok) {
      throw new Error("the server answered " + answer.status);
    }
    return answer.json();
  }
  function post(form, ceremony, credential) {
    form.elements.ceremony.value = ceremony;
    form.elements.response.value = JSON.stringify(credential.toJSON());
    form.submit();
  }
  async function get(form, mediation, signal) {
    var start = await options(form);
    var request = {
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(clean(start.options.publicKey)),
    };
    if (mediation) {
      request.mediation = mediation;
      request.signal = signal;
    }
    var credential = await navigator.credentials.get(request);
    if (credential) {
      post(form, start.ceremony, credential);
    }
  }
  // A refusal by the person (or an authenticator with nothing for us) is
  // no error worth showing.
  function quiet(error) {
    return error && (error.name === "NotAllowedError" || error.name === "AbortError");
  }

  var register = document.getElementById("register-passkey");
  if (register) {
    register.addEventListener("submit", async function (event) {
      if (register.elements.response.value) {
        return;
      }
      event.preventDefault();
      say("Follow your browser's prompt…");
      try {
        var start = await options(register);
        var credential = await navigator.credentials.create({
          publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(clean(start.options.publicKey)),
        });
        post(register, start.ceremony, credential);
      } catch (error) {
        say(quiet(error) ? "No passkey was added." : "The passkey could not be added: " + error.message);
      }
    });
  }

  var second = document.getElementById("second-factor-key");
  if (second) {
    second.addEventListener("submit", async function (event) {
      if (second.elements.response.value) {
        return;
      }
      event.preventDefault();
      say("Follow your browser's prompt…");
      try {
        await get(second);
      } catch (error) {
        say(quiet(error) ? "The key was not used. Try again, or use a code." : "The key could not be used: " + error.message);
      }
    });
  }

  var signIn = document.getElementById("passkey-sign-in");
  if (signIn) {
    var waiting = null;
    signIn.addEventListener("submit", async function (event) {
      if (signIn.elements.response.value) {
        return;
      }
      event.preventDefault();
      if (waiting) {
        waiting.abort();
        waiting = null;
      }
      try {
        await get(signIn);
      } catch (error) {
        if (!quiet(error)) {
          say("The passkey could not be used: " + error.message);
        }
      }
    });
    // Conditional UI: the browser offers its passkeys in the name field
    // (not right after a refusal, which it would only repeat).
    if (signIn.dataset.conditional !== "off" && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (available) {
          waiting = new AbortController();
          get(signIn, "conditional", waiting.signal).catch(function () {});
        }
      });
    }
  }
})();
