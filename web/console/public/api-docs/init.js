/*
 * The API docs page (served at /api/docs/ by src/zhengding/http/docs.py): no inline script, so
 * that it works under the platform's Content-Security-Policy (script-src 'self').
 *
 * The OpenAPI document is fetched with the console's token from this tab's sessionStorage (the
 * key of web/shared/api/http.ts). Outside demo mode the document needs a login: without a valid
 * session the visitor is sent to the console login, whose route #/api-docs comes back here.
 * "Try it out" calls the API with the same token.
 */
;(function () {
  'use strict'
  var TOKEN_KEY = 'zd.token'
  var LOGIN_AND_BACK = '/console/#/api-docs'
  var note = document.getElementById('zd-docs-note')

  function token() {
    try {
      return window.sessionStorage.getItem(TOKEN_KEY)
    } catch (e) {
      return null
    }
  }

  function say(text, isError) {
    note.textContent = text
    note.className = isError ? 'zd-docs-note error' : 'zd-docs-note'
  }

  function withToken(headers) {
    var t = token()
    if (t) headers.Authorization = 'Bearer ' + t
    return headers
  }

  fetch('/api/openapi.json', { headers: withToken({ Accept: 'application/json' }), credentials: 'same-origin' })
    .then(function (response) {
      if (response.status === 401) {
        window.location.replace(LOGIN_AND_BACK)
        return null
      }
      if (!response.ok) throw new Error('HTTP ' + response.status)
      return response.json()
    })
    .then(function (spec) {
      if (!spec) return
      say(token()
        ? '调试接口时使用您在管理控制台的登录身份（本标签页）。'
        : '未登录：可浏览接口说明；调试需要登录的接口前，请先在本标签页登录管理控制台。', false)
      window.ui = window.SwaggerUIBundle({
        spec: spec,
        dom_id: '#swagger-ui',
        deepLinking: true,
        validatorUrl: null,
        requestInterceptor: function (request) {
          withToken(request.headers)
          return request
        },
      })
    })
    .catch(function () {
      say('接口文档加载失败，请刷新页面重试。', true)
    })
})()
