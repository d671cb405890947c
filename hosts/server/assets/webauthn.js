// The browser half of stepup's security-key pages: asks the server for options, lets the
// browser talk to the key, and sends the result back. Every check happens in the engine.
(() => {
  const b64u = {
    decode: (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)).buffer,
    encode: (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''),
  };
  const toJson = (c) => {
    const r = c.response;
    const response = { clientDataJSON: b64u.encode(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = b64u.encode(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = b64u.encode(r.authenticatorData);
      response.signature = b64u.encode(r.signature);
      response.userHandle = r.userHandle ? b64u.encode(r.userHandle) : null;
    }
    return { id: c.id, rawId: b64u.encode(c.rawId), type: c.type, clientExtensionResults: c.getClientExtensionResults(), response };
  };
  const post = async (url, body) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.error || data.message || `refused (${res.status})`);
    return data;
  };
  const note = (text) => { document.getElementById('key-note').textContent = text; };
  const field = (id) => (document.getElementById(id) || { value: '' }).value;
  // A second factor for listing or removing keys: the code field when filled, else a key.
  const proof = async (who) => {
    const otp = field('otp').trim();
    if (otp) { document.getElementById('otp').value = ''; return { otp }; }
    const options = await post('/-/stepup/security-keys/sign-in', who);
    const got = await navigator.credentials.get({ publicKey: {
      ...options, challenge: b64u.decode(options.challenge),
      allowCredentials: options.allowCredentials.map((c) => ({ ...c, id: b64u.decode(c.id) })) } });
    return { assertion: toJson(got) };
  };
  const showKeys = (data) => {
    const list = document.getElementById('keys');
    list.replaceChildren(...data.keys.map((k) => {
      const item = document.createElement('li');
      item.dataset.id = k.id;
      const added = new Date(k.created * 1000).toISOString().slice(0, 10);
      item.append(`${k.alg} key added ${added} (${k.id.slice(0, 12)}…) `);
      const remove = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Remove' });
      remove.addEventListener('click', async () => {
        note('Waiting for your second factor...');
        const who = { name: field('name'), password: field('password') };
        try {
          const done = await post('/-/stepup/security-keys/remove', { ...who, ...(await proof(who)), id: k.id });
          showKeys(done);
          note(done.message);
        } catch (e) {
          note(e.message);
        }
      });
      item.append(remove);
      return item;
    }));
    if (!data.keys.length) list.replaceChildren(Object.assign(document.createElement('li'), { textContent: 'No security keys.' }));
  };
  const lister = document.getElementById('list-keys');
  if (lister) {
    lister.addEventListener('click', async () => {
      note('Waiting for your second factor...');
      const who = { name: field('name'), password: field('password') };
      try {
        showKeys(await post('/-/stepup/security-keys/list', { ...who, ...(await proof(who)) }));
        note('');
      } catch (e) {
        note(e.message);
      }
    });
  }
  const button = document.getElementById('use-key');
  if (!button) return;
  button.addEventListener('click', async () => {
    note('Waiting for your security key...');
    const who = { name: field('name'), password: field('password') };
    try {
      if (button.dataset.stepup === 'approve') {
        const options = await post(`${location.pathname}/key-options`, {});
        const got = await navigator.credentials.get({ publicKey: {
          ...options, challenge: b64u.decode(options.challenge),
          allowCredentials: options.allowCredentials.map((c) => ({ ...c, id: b64u.decode(c.id) })) } });
        const done = await post(`${location.pathname}/key`, { assertion: toJson(got) });
        document.body.replaceChildren(Object.assign(document.createElement('p'), { id: 'done', textContent: done.message }));
      } else if (button.dataset.stepup === 'login') {
        const options = await post(`${location.pathname}/key-options`, who);
        const got = await navigator.credentials.get({ publicKey: {
          ...options, challenge: b64u.decode(options.challenge),
          allowCredentials: options.allowCredentials.map((c) => ({ ...c, id: b64u.decode(c.id) })) } });
        const done = await post(`${location.pathname}/key`, { ...who, assertion: toJson(got) });
        document.body.replaceChildren(Object.assign(document.createElement('p'), { id: 'done', textContent: done.message }));
      } else {
        const options = await post('/-/stepup/security-keys/options', { ...who, otp: field('otp') });
        const created = await navigator.credentials.create({ publicKey: {
          ...options, challenge: b64u.decode(options.challenge), user: { ...options.user, id: b64u.decode(options.user.id) },
          excludeCredentials: options.excludeCredentials.map((c) => ({ ...c, id: b64u.decode(c.id) })) } });
        const done = await post('/-/stepup/security-keys', { ...who, credential: toJson(created) });
        const shown = [Object.assign(document.createElement('p'), { id: 'done', textContent: done.message })];
        if (done.recovery_codes) {
          // Shown once: the only way back in if the key is lost.
          shown.push(Object.assign(document.createElement('p'), { textContent: 'Recovery codes (each works once; store them safely):' }));
          const list = Object.assign(document.createElement('ul'), { id: 'recovery' });
          list.append(...done.recovery_codes.map((c) => Object.assign(document.createElement('li'), { textContent: c })));
          shown.push(list);
        }
        document.body.replaceChildren(...shown);
      }
    } catch (e) {
      note(e.message);
    }
  });
})();
