# SixChat，简体中文（与英文参考文件的键完全相同）。

back = 返回
close = 关闭
dismiss = 忽略
remove = 移除
save = 保存
unread-title = SixChat — { $count } 条未读

## 设置向导
wizard-title = 欢迎使用 SixChat
wizard-intro = 与可验证身份的人直接聊天。请选择设置身份的方式。
wizard-invite = 加入目录
wizard-invite-hint = 你已从所在组织的目录（DIR）收到邀请码。
wizard-import = 导入 PKCS#12 文件
wizard-import-hint = 使用你已有的身份（.p12 或 .pfx）。
wizard-create = 创建独立身份
wizard-create-hint = 适用于没有目录的局域网；双方只需核对一次短码。
wizard-invite-field = 邀请码
wizard-invite-missing = 请粘贴邀请码。
wizard-name = 显示名称
wizard-name-missing = 请输入显示名称。
wizard-user-id = 用户ID
wizard-user-id-missing = 请输入用户ID，例如 name@example.org。
wizard-passphrase = 密码短语
wizard-passphrase-repeat = 再次输入密码短语
wizard-passphrase-hint = 密码短语用于在本机加密你的私钥，至少 8 个字符。
wizard-passphrase-short = 密码短语至少需要 8 个字符。
wizard-passphrase-differ = 两次输入的密码短语不一致。
wizard-file = 文件
wizard-file-missing = 请选择 PKCS#12 文件。
wizard-file-password = 文件密码
wizard-import-passphrase-hint = 如果密码短语留空，将使用文件密码保护此配置文件。
wizard-browse = 浏览…
wizard-join = 加入
wizard-import-go = 导入
wizard-create-go = 创建身份

## 解锁
unlock-title = 解锁 SixChat
unlock-passphrase = 密码短语
unlock-go = 解锁
unlock-remember = 在系统钥匙串中记住密码短语

## 任务
task-creating = 正在创建密钥和证书…
task-importing = 正在导入…
task-enrolling = 正在向目录注册…
task-unlocking = 正在解锁…
task-renewing = 正在续期证书…
task-exporting = 正在导出…
task-backing-up = 正在备份到目录…

## 错误
failure-wrong-passphrase = 密码短语错误。
failure-wrong-password = 此文件的密码错误。
failure-not-pkcs12 = 这不是 PKCS#12 文件。
failure-invalid = 操作失败：
failure-refused = 对方拒绝了会话。
failure-unreachable = 无法连接到对方。
failure-no-address = 对方地址未知，且没有可查询的目录。
failure-no-directory = 此配置文件尚未加入目录。
failure-other = 出现错误：

## 联系人
contacts-add = 添加联系人
contacts-address = 地址（可选）
contacts-search = 搜索联系人
contacts-empty = 暂无联系人。可在上方通过用户ID添加。
presence-online = 在线
presence-reachable = 可连接
presence-offline = 离线
presence-last-seen = 最后在线 { $when }

## 会话
conversation-none = 选择一位联系人开始聊天。
conversation-empty = 暂无消息。打个招呼吧！
conversation-connect = 连接
conversation-search = 在会话中搜索
conversation-always-accept = 始终接受
search-matches = { $count } 个结果
day-today = 今天
day-yesterday = 昨天
typing = { $name } 正在输入…
composer-label = 消息
composer-hint = 输入消息（Enter 发送，Shift+Enter 换行）
composer-send = 发送
composer-emoji = 表情
state-queued = 待发送
state-sent = 已发送
state-delivered = 已送达
state-read = 已读

## 信任
trust-verified = 已验证
trust-known = 已知
trust-new = 新
trust-anonymous = 匿名
card-issuer = 颁发者
card-valid = 有效期
card-valid-range = { $from } 至 { $until }
card-fingerprint = 指纹
card-compare = 请与对方核对此代码（通过电话或当面）：
card-impostor = 警告：{ $user } 属于你信任其目录的域，但这个密钥并非由该目录签发。可能有人在冒充此人；请不要固定它。
card-codes-match = 代码一致
card-codes-match-hint = 两边屏幕上的代码相同：接受，并记住 { $user } 的这个密钥（以后不再询问）。
card-accept-once = 仅接受一次
card-accept-once-hint = 只接受本次会话；下次需要再次比对代码。
card-compared = 代码已比对并接受。

## 连接用户
connect-title = 连接用户
connect-looking-up = 正在查找对方…
connect-connecting = 正在连接…
connect-connected = 已连接
connect-queued = 对方离线。{ $count } 条消息正在其目录中等待。
connect-retry = 重试
connect-address = 地址
connect-address-hint = [2001:db8::5]:4605 或 192.0.2.7:4605
connect-dial = 拨号
connect-waiting = 已连接。正在等待 { $name } 接受…
connect-accepted = { $name } 已接受；消息将直接送达。
connect-compare-first = 发送任何内容之前，请先比对代码。
waiting-accept = 正在等待 { $name } 接受

## 聊天请求
incoming-title = 聊天请求
incoming-from = 有人从 { $addr } 连接到你。
incoming-accept = 接受
incoming-accept-hint = 接受；只要此联系人的密钥经其目录验证或已固定，以后的会话不再询问（取消勾选“始终接受”即可恢复询问）。
incoming-decline = 拒绝
incoming-more = 还有 { $count } 个等待中

## 我的身份
me-title = 我的身份
me-open = 我的身份
me-user-id = UserID
me-fingerprint = 指纹
me-addresses = 别人可以通过这些地址联系你
me-no-address = 尚未在网络地址上监听。
me-copy = 复制
me-copied = 已复制
me-explain = 把你的 UserID 和其中一个地址告诉联系人；对方首次连接时请比对代码。

## 设置
settings-open = 设置
settings-title = 设置
settings-identity = 身份
settings-network = 网络
settings-trust = 信任
settings-appearance = 语言与外观
settings-user-id = 用户ID
settings-name = 名称
settings-self-signed = 自签名（独立）
settings-directory = 目录
settings-no-directory = 无
settings-renew = 立即续期
settings-backup = 备份到目录
settings-forget-passphrase = 忘记已记住的密码短语
settings-export = 导出为 PKCS#12
settings-export-file = 文件
settings-export-password = 导出密码
settings-export-go = 导出
settings-listening = 正在监听
settings-registered = 已注册地址
settings-families = 地址族
settings-listen = 监听地址
settings-listen-hint = HOST:PORT，例如 [::]:4605 表示同时使用 IPv6 和 IPv4。下次启动时生效。
settings-roots = 目录根证书
settings-pins = 已固定的密钥
settings-none = 无
settings-language = 语言
settings-theme = 主题
settings-notifications = 桌面通知
theme-system = 跟随系统
theme-light = 浅色
theme-dark = 深色

## 提示
notice-renewed = 证书已续期，有效期至 { $until }。
notice-exported = 已导出到 { $path }。
notice-backed-up = 已备份。请记下此恢复码，它只显示这一次：
notice-pinned = 已固定 { $user } 的密钥。
notice-keyring-failed = 系统钥匙串无法保存密码短语，下次启动时将再次询问。
notice-passphrase-forgotten = 已不再记住密码短语，下次启动时将询问。
notice-listen-fallback = 端口 { $wanted } 已被占用，今后改为监听 { $got }（请把这个端口告诉联系人）。
notify-message = 来自 { $name } 的消息
notify-incoming = { $name } 想和你聊天

## Files: the commander, the queue, offers
files-open = 文件
files-chat = 聊天
files-contact = 联系人：
files-no-peer = 未选择联系人
files-pick-peer = 在上方选择联系人以查看其共享文件夹。
files-local = 本机
files-remote = { $peer } 共享：{ $path }
files-name = 名称
files-size = 大小
files-date = 日期
files-reread = 重新读取 (Ctrl+R)
files-copy = 复制到另一侧 (F5)
files-new-folder = 新建文件夹 (F7)
files-folder-name = 新文件夹名称
files-create = 创建
files-add = 添加文件…
queue-title = 传输
queue-empty = 没有传输。
queue-source = 来源
queue-destination = 目标
queue-transferred = 已传输
queue-speed = 速度
queue-left = 剩余时间
queue-progress = 进度
queue-actions = 操作
queue-pause = 暂停
queue-resume = 继续
queue-retry = 重试
queue-cancel = 取消
queue-state-waiting = 等待中
queue-state-running = 进行中
queue-state-paused = 已暂停
queue-state-done = 完成，已校验
queue-state-failed = 失败
queue-state-cancelled = 已取消
offer-text = { $name } 发送 { $files } 个文件，{ $size }。
offer-accept = 接受
offer-decline = 拒绝

## Mail
mail-open = 邮件
mail-check = 检查新邮件
mail-compose = 写邮件
mail-inbox = 收件箱
mail-sent = 已发送
mail-drafts = 草稿
mail-trash = 废纸篓
mail-search = 搜索
mail-empty = 这里没有邮件。
mail-none-open = 选择一封邮件来阅读。
mail-reply = 回复
mail-reply-all = 全部回复
mail-forward = 转发
mail-save-attachments = 保存附件…
mail-delete = 删除
mail-status = 状态
mail-from = 发件人
mail-to = 收件人
mail-cc = 抄送
mail-date = 日期
mail-subject = 主题
mail-delivery = 投递
mail-attachment = 附件
mail-body = 正文
mail-attach = 添加附件…
mail-drop-hint = 写邮件时拖到窗口上的文件会作为附件。
mail-sign = 签名
mail-encrypt = 加密
mail-unencrypted-warning = 未加密：目录服务器和途中的任何人都能读到这封邮件。
mail-not-sent = 未发送
mail-cannot-encrypt = 只能向其目录签发了邮件加密证书的人加密邮件。关闭“加密”即可发送可被途中任何人读取的邮件，或请对方更新证书。
mail-edit-draft = 编辑草稿
mail-save-draft = 保存草稿
mail-send = 发送
