"""Mobile H5 app (390×844): activation, login, directory scope, watermark, leak protection."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import PHONE_MASKED, DemoServer, mobile_login, screenshot, watermark_text


class TestActivation:
    def test_new_grid_worker_activates_logs_in_finds_colleague_and_logs_out(
        self, mobile_page, server: DemoServer
    ):
        page = mobile_page
        newcomer = server.take_pending()
        colleague = server.accounts["grid1"]  # same village as the first pending grid workers
        password = "Xiuhua-Grid-2026!"

        page.goto("/m/#/activate")
        expect(page.get_by_test_id("password-policy")).to_contain_text("至少 10 位")
        screenshot(page, "mobile-activate")
        page.locator("input[name=name]").fill(newcomer["name"])
        page.locator("input[name=phone]").fill(newcomer["phone"])
        page.locator("input[name=code]").fill(newcomer["code"])
        page.locator("input[name=password]").fill("short")
        page.locator("input[name=confirm]").fill("short")
        page.get_by_role("button", name="激活并设置密码").click()
        expect(page.get_by_text("密码至少需要 10 位")).to_be_visible()

        page.locator("input[name=password]").fill(password)
        page.locator("input[name=confirm]").fill(password)
        page.get_by_role("button", name="激活并设置密码").click()
        page.wait_for_url(re.compile(r"#/login"))
        expect(page.get_by_text("账号已激活")).to_be_visible()
        expect(page.locator("input[name=login]")).to_have_value(newcomer["phone"])

        page.locator("input[name=password]").fill(password)
        page.get_by_role("button", name="登录").click()
        page.get_by_text("待办事项").wait_for()
        expect(page.locator(".hello")).to_contain_text(newcomer["name"])
        assert newcomer["phone"][-4:] in (watermark_text(page) or "")
        screenshot(page, "mobile-workbench")

        page.locator(".van-tabbar-item", has_text="通讯录").click()
        page.locator("input[name=directory-search]").fill(colleague["name"])
        people = page.get_by_test_id("search-people")
        expect(people).to_contain_text(colleague["name"])
        screenshot(page, "mobile-directory-search")
        people.get_by_text(colleague["name"]).click()

        card = page.get_by_test_id("person-card")
        expect(card).to_contain_text(colleague["name"])
        phone = page.get_by_test_id("person-phone").inner_text()
        assert PHONE_MASKED.fullmatch(phone.strip()), phone
        expect(page.get_by_test_id("call")).to_be_visible()
        screenshot(page, "mobile-person-card")

        page.goto("/m/#/profile")
        expect(page.get_by_test_id("profile-card")).to_contain_text(newcomer["name"])
        screenshot(page, "mobile-profile")
        page.get_by_test_id("logout").click()
        page.get_by_role("button", name="确认").click()
        page.wait_for_url(re.compile(r"#/login"))
        expect(page.get_by_text("您已安全退出")).to_be_visible()
        assert watermark_text(page) is None
        # the session is gone: a protected page sends back to login
        page.goto("/m/#/directory")
        page.wait_for_url(re.compile(r"#/login"))

    def test_wrong_activation_code_shows_readable_message(self, mobile_page, server: DemoServer):
        page = mobile_page
        someone = server.pending[-1]
        page.goto("/m/#/activate")
        page.locator("input[name=name]").fill(someone["name"])
        page.locator("input[name=phone]").fill(someone["phone"])
        page.locator("input[name=code]").fill("WRONG000")
        page.locator("input[name=password]").fill("Xiuhua-Grid-2026!")
        page.locator("input[name=confirm]").fill("Xiuhua-Grid-2026!")
        page.get_by_role("button", name="激活并设置密码").click()
        toast = page.locator(".van-toast")
        expect(toast).to_be_visible()
        text = toast.inner_text()
        assert re.search(r"[\u4e00-\u9fff]", text) and "{" not in text, text


class TestLogin:
    def test_administrator_logs_in_with_totp_step(self, mobile_page, server: DemoServer):
        page = mobile_page
        page.goto("/m/#/login")
        screenshot(page, "mobile-login")
        page.locator("input[name=login]").fill("sysadmin")
        page.locator("input[name=password]").fill(server.password)
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_text("请输入身份验证器中的 6 位动态码")).to_be_visible()
        screenshot(page, "mobile-login-totp")
        page.locator("input[name=totp]").fill(server.totp("sysadmin"))
        page.get_by_role("button", name="验证").click()
        page.get_by_text("待办事项").wait_for()

    def test_wrong_password_message_is_chinese_not_json(self, mobile_page, server: DemoServer):
        page = mobile_page
        page.goto("/m/#/login")
        page.locator("input[name=login]").fill("grid2")
        page.locator("input[name=password]").fill("not-the-password")
        page.get_by_role("button", name="登录").click()
        toast = page.locator(".van-toast")
        expect(toast).to_be_visible()
        assert "{" not in toast.inner_text() and re.search(r"[\u4e00-\u9fff]", toast.inner_text())

    def test_login_goes_on_to_the_page_asked_for_but_never_off_the_app(self, mobile_page, server: DemoServer):
        page = mobile_page
        page.goto("/m/#/directory")
        page.wait_for_url(re.compile(r"#/login\?redirect=(%2F|/)directory$"))
        page.locator("input[name=login]").fill("grid2")
        page.locator("input[name=password]").fill(server.password)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(re.compile(r"/m/#/directory$"))
        expect(page.get_by_test_id("roots")).to_be_visible()

        page.evaluate("() => sessionStorage.clear()")
        page.goto("/m/#/login?redirect=%2F%2Fexample.org%2Fphish")
        page.reload()  # a fresh app: nothing of the first session in memory
        page.locator("input[name=login]").fill("grid2")
        page.locator("input[name=password]").fill(server.password)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(re.compile(r"/m/#/$"))
        assert page.url.startswith(server.base_url)
        page.get_by_text("待办事项").wait_for()

    def test_idle_timeout_returns_to_login(self, mobile_page, server: DemoServer):
        page = mobile_page
        page.clock.install()
        mobile_login(page, server, "grid2")
        idle = server.me("grid2")["idle_timeout_seconds"]
        page.clock.fast_forward(idle * 1000 + 60_000)
        page.clock.run_for(20_000)
        page.wait_for_url(re.compile(r"#/login"))
        expect(page.get_by_text("长时间未操作")).to_be_visible()

    def test_revoked_session_answers_401_and_returns_to_login(self, mobile_page, server: DemoServer):
        page = mobile_page
        mobile_login(page, server, "grid2")
        token = page.evaluate("() => sessionStorage.getItem('zd.token')")
        with server.api() as c:
            c.post("/auth/logout", headers={"Authorization": f"Bearer {token}"}).raise_for_status()
        # the server closes the session's socket (4401): the open page returns to login by itself
        page.wait_for_url(re.compile(r"#/login"))
        expect(page.get_by_text("登录已失效")).to_be_visible()
        # and the API refuses the token too
        page.goto("/m/#/directory")
        page.wait_for_url(re.compile(r"#/login"))


class TestDirectoryScope:
    def test_grid_worker_browses_own_village(self, mobile_page, server: DemoServer):
        page = mobile_page
        mobile_login(page, server, "grid1")
        page.locator(".van-tabbar-item", has_text="通讯录").click()
        roots = page.get_by_test_id("roots")
        expect(roots).to_contain_text(server.accounts["grid1"]["unit_name"])
        screenshot(page, "mobile-directory")
        roots.get_by_text(server.accounts["grid1"]["unit_name"]).click()
        members = page.get_by_test_id("members")
        expect(members).to_contain_text(server.accounts["grid1"]["name"])
        for phone in members.locator(".phone").all_inner_texts():
            assert PHONE_MASKED.fullmatch(phone.strip()), phone
        screenshot(page, "mobile-directory-unit")

    def test_grid_worker_typing_another_villages_url_sees_nothing(self, mobile_page, server: DemoServer):
        other = server.me("grid2")
        other_unit = other["units"][0]["id"]
        page = mobile_page
        mobile_login(page, server, "grid1")
        page.goto(f"/m/#/directory/unit/{other_unit}")
        expect(page.get_by_test_id("unit-error")).to_contain_text("无权查看")
        expect(page.get_by_test_id("members")).to_have_count(0)
        body = page.locator("body").inner_text()
        assert other["name"] not in body and other["units"][0]["name"] not in body
        screenshot(page, "mobile-directory-forbidden")

        page.goto(f"/m/#/directory/person/{other['id']}")
        expect(page.get_by_test_id("person-error")).to_contain_text("无权查看")
        assert other["name"] not in page.locator("body").inner_text()


class TestLeakProtection:
    def test_watermark_on_every_page_and_redrawn_after_tampering(self, mobile_page, server: DemoServer):
        page = mobile_page
        me = server.me("grid1")
        mobile_login(page, server, "grid1")
        unit = me["units"][0]["id"]
        for route in [
            "/",
            "/directory",
            f"/directory/unit/{unit}",
            f"/directory/person/{me['id']}",
            "/profile",
            "/profile/password",
            "/profile/totp",
        ]:
            page.goto(f"/m/#{route}")
            page.wait_for_load_state("networkidle")
            text = watermark_text(page)
            assert text and me["name"] in text and me["phone_last4"] in text, (route, text)
            assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", text), text
            style = page.evaluate("""() => { const s = getComputedStyle(document.getElementById('zd-watermark'));
                return [s.position, s.pointerEvents, s.zIndex, s.display, s.visibility] }""")
            assert style[0] == "fixed" and style[1] == "none" and int(style[2]) > 10000, style

        tampering = [
            "el => el.remove()",
            "el => el.style.setProperty('display', 'none', 'important')",
            "el => el.style.opacity = '0'",
            "el => el.setAttribute('style', 'visibility:hidden')",
            "el => el.setAttribute('hidden', '')",
            "el => el.parentNode.removeChild(el)",
            "el => { el.style.backgroundImage = 'none' }",
        ]
        for js in tampering:
            page.locator("#zd-watermark").evaluate(js)
            page.wait_for_function(
                """() => { const el = document.getElementById('zd-watermark');
                if (!el || !el.isConnected) return false;
                const s = getComputedStyle(el);
                return s.display === 'block' && s.visibility === 'visible' && s.opacity === '1'
                    && s.backgroundImage.startsWith('url(') }""",
                timeout=2000,
            )
        # hiding the page's body does not leave the content unmarked either
        page.evaluate("() => document.body.style.setProperty('opacity', '0')")
        page.wait_for_function("() => getComputedStyle(document.body).opacity === '1'", timeout=2000)
        assert me["phone_last4"] in (watermark_text(page) or "")

    def test_copy_context_menu_and_print_blocked_on_personal_data_page(self, mobile_page, server: DemoServer):
        page = mobile_page
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
        me = server.me("grid1")
        mobile_login(page, server, "grid1")
        page.goto(f"/m/#/directory/unit/{me['units'][0]['id']}")
        expect(page.get_by_test_id("members")).to_contain_text(me["name"])

        page.evaluate("() => navigator.clipboard.writeText('SENTINEL')")
        result = page.evaluate("""() => {
            const range = document.createRange();
            range.selectNodeContents(document.querySelector('[data-testid=members]'));
            const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
            let seen = null;
            window.addEventListener('copy', e => { seen = { prevented: e.defaultPrevented,
                data: e.clipboardData ? e.clipboardData.getData('text/plain') : null } }, { once: true });
            const done = document.execCommand('copy');
            return { done, seen, selected: sel.toString() };
        }""")
        # either nothing could be selected, or the copy was cancelled with empty data
        copied = (result["seen"] or {}).get("data") or ""
        assert me["name"] not in copied, result
        if result["seen"] is not None:
            assert result["seen"]["prevented"] and not result["seen"]["data"], result
        page.locator(".van-nav-bar__title").click()
        page.keyboard.press("Control+a")
        page.keyboard.press("Control+c")
        clip = page.evaluate("() => navigator.clipboard.readText()")
        assert me["name"] not in clip and not PHONE_MASKED.search(clip), clip

        assert page.evaluate("""() => { const e = new MouseEvent('contextmenu', { bubbles: true, cancelable: true });
            document.querySelector('[data-testid=members]').dispatchEvent(e); return e.defaultPrevented }""")
        assert page.evaluate("""() => { const e = new KeyboardEvent('keydown', { key: 'p', ctrlKey: true,
            bubbles: true, cancelable: true }); document.body.dispatchEvent(e); return e.defaultPrevented }""")
        assert page.evaluate("() => getComputedStyle(document.body).userSelect") == "none"
        page.emulate_media(media="print")
        assert page.evaluate("() => getComputedStyle(document.getElementById('app')).display") == "none"
        notice = page.evaluate("() => getComputedStyle(document.body, '::before').content")
        assert "禁止打印" in notice
        page.emulate_media(media="screen")

        # pages without personal data stay normal
        page.goto("/m/#/profile/password")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("() => document.documentElement.classList.contains('zd-protected')") is False

    def test_content_blurred_while_page_hidden(self, mobile_page, server: DemoServer):
        page = mobile_page
        mobile_login(page, server, "grid1")
        page.evaluate("""() => { Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
            document.dispatchEvent(new Event('visibilitychange')) }""")
        assert "blur" in page.evaluate("() => getComputedStyle(document.getElementById('app')).filter")
        page.evaluate("""() => { Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true });
            window.dispatchEvent(new Event('focus')) }""")
        assert page.evaluate("() => getComputedStyle(document.getElementById('app')).filter") == "none"


class TestPwa:
    def test_manifest_and_service_worker(self, mobile_page, server: DemoServer):
        page = mobile_page
        page.goto("/m/#/login")
        manifest = page.evaluate(
            "() => fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())"
        )
        assert manifest["start_url"] == "/m/" and manifest["display"] == "standalone"
        assert any(i["sizes"] == "512x512" for i in manifest["icons"])
        scope = page.evaluate(
            """async () => { const r = await navigator.serviceWorker.ready; return r.scope }"""
        )
        assert scope.endswith("/m/")
