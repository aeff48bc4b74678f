"""Labels for every field name that reaches a person: English and Chinese, unit, number kind.

JSON, JSONL and CSV keep the snake_case keys; table, markdown, HTML and XLSX show these
labels and format numbers by kind (see `output.numbers`). One table, so that a report
reads the same in every format and in both languages (`--lang zh` or `$CRM_LANG=zh`).

Number kinds:
- ``money``: two decimals, thousands separators, the currency when known;
- ``percent``: the value is already in percent (12.5 = 12.5 %), one decimal;
- ``ratio``: a fraction shown as a percentage (0.125 = 12.5 %), one decimal;
- ``rate``: rates, probabilities, test statistics: 3 significant digits;
- ``param``: model parameters and likelihoods: 4 significant digits;
- ``count``: integers with thousands separators;
- ``hours`` / ``minutes`` / ``days`` / ``weeks`` / ``number``: one decimal (3 significant
  digits below 10);
- ``time`` / ``date`` / ``text``: not numbers.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any, NamedTuple


class Label(NamedTuple):
    en: str
    zh: str
    kind: str = "text"


UNITS = {
    "hours": ("h", "小时"),
    "minutes": ("min", "分钟"),
    "days": ("days", "天"),
    "weeks": ("weeks", "周"),
}

L = Label
# fmt: off
LABELS: dict[str, Label] = {
    # identity and text
    "id": L("ID", "编号", "id"),
    "customer_id": L("Customer ID", "客户编号", "id"),
    "external_id": L("External ID", "外部编号"),
    "name": L("Name", "姓名"),
    "customer_name": L("Customer", "客户"),
    "phone": L("Phone", "电话"),
    "email": L("Email", "邮箱"),
    "address": L("Address", "地址"),
    "company": L("Company", "公司"),
    "lifecycle": L("Lifecycle", "生命周期"),
    "owner": L("Owner", "负责人"),
    "tags": L("Tags", "标签"),
    "tag": L("Tag", "标签"),
    "channel": L("Channel", "渠道"),
    "direction": L("Direction", "方向"),
    "subject": L("Subject", "主题"),
    "content": L("Content", "内容"),
    "agent": L("Agent", "坐席"),
    "status": L("Status", "状态"),
    "priority": L("Priority", "优先级"),
    "category": L("Category", "类别"),
    "assignee": L("Assignee", "处理人"),
    "segment": L("Segment", "细分"),
    "meaning": L("Meaning", "含义"),
    "variant": L("Variant", "分组"),
    "comparison": L("Comparison", "比较"),
    "verdict": L("Verdict", "结论"),
    "note": L("Note", "说明"),
    "metric": L("Metric", "指标"),
    "value": L("Value", "数值", "number"),
    "previous": L("Previous period", "上期", "number"),
    "change": L("Change", "变化", "number"),
    "change_pct": L("Change (%)", "变化（%）", "percent"),
    "unit": L("Unit", "单位"),
    "field": L("Field", "字段"),
    "table": L("Table", "表"),
    "measure": L("Measure", "度量"),
    "clock": L("SLA clock", "SLA 计时"),
    "age": L("Age", "时长"),
    "method": L("Method", "方法"),
    "model": L("Model", "模型"),
    "baseline": L("Baseline", "基准"),
    "levels": L("Interval levels", "区间水平"),
    "profile": L("Profile", "周期"),
    "season": L("Season", "季节"),
    "zone": L("Time zone", "时区"),
    "by": L("Period unit", "周期单位"),
    "time_unit": L("Time unit", "时间单位"),
    "currency": L("Currency", "币种"),
    "spend_model_basis": L("Spend model basis", "消费模型基础"),
    "channel_filter": L("Channel filter", "渠道筛选"),
    "significant": L("Significant", "显著"),
    "complete": L("Complete", "完整"),
    "last_period_complete": L("Last period complete", "最后一期完整"),
    "trend": L("Trend", "趋势"),
    # times and periods
    "period": L("Period", "周期"),
    "week": L("Week", "周"),
    "cohort": L("Cohort", "同期群"),
    "first_period": L("First period", "首期"),
    "last_period": L("Last period", "末期", "count"),
    "since_at": L("From", "起始"),
    "until_at": L("Until", "截止"),
    "previous_since_at": L("Previous period from", "上期起始"),
    "previous_until_at": L("Previous period until", "上期截止"),
    "start_at": L("Start", "开始"),
    "end_at": L("End", "结束"),
    "starts_at": L("Starts", "开始"),
    "ends_at": L("Ends", "结束"),
    "created_at": L("Created", "创建时间"),
    "updated_at": L("Updated", "更新时间"),
    "occurred_at": L("Occurred", "发生时间"),
    "follow_up_at": L("Follow up", "跟进时间"),
    "done_at": L("Done", "完成时间"),
    "due_at": L("Due", "到期"),
    "resolved_at": L("Resolved", "解决时间"),
    "closed_at": L("Closed", "关闭时间"),
    "first_response_at": L("First response", "首次响应"),
    "last_order_at": L("Last order", "最近订单"),
    "last_contact_at": L("Last contact", "最近联系"),
    "ordered_at": L("Ordered", "下单时间"),
    "contacted_at": L("Contacted", "联系时间"),
    "calibration_end": L("Calibration end", "校准截止", "date"),
    "days": L("Days", "天数", "number"),
    "periods": L("Periods", "期数", "count"),
    "history_periods": L("History periods", "历史期数", "count"),
    "periods_used": L("Periods used", "使用期数", "count"),
    "season_length": L("Season length", "季节长度", "count"),
    "backtest_holdout_periods": L("Backtest holdout periods", "回测留出期数", "count"),
    "retention_window_days": L("Retention window", "留存窗口", "days"),
    "stale_days": L("Stale after", "陈旧阈值", "days"),
    "horizon": L("Horizon", "预测期", "number"),
    "recency": L("Recency", "最近购买", "number"),
    "T": L("Customer age", "客户年龄", "number"),
    # counts
    "customers": L("Customers", "客户数", "count"),
    "new_customers": L("New customers", "新客户", "count"),
    "cumulative_customers": L("Cumulative customers", "累计客户", "count"),
    "customers_with_orders": L("Customers with orders", "有订单客户", "count"),
    "customers_listed": L("Customers listed (--top)", "列出客户数（--top）", "count"),
    "repeat_customers": L("Repeat customers", "复购客户", "count"),
    "repeaters": L("Repeat customers", "复购客户", "count"),
    "repeat_purchases": L("Repeat purchases", "复购次数", "count"),
    "frequency": L("Repeat purchases", "复购次数", "count"),
    "retention_base": L("Retention base", "留存基数", "count"),
    "retained": L("Retained", "留存", "count"),
    "churn_risk_count": L("At churn risk", "流失风险客户", "count"),
    "new": L("New", "新增", "count"),
    "leads": L("Leads", "线索", "count"),
    "paying": L("Paying", "付费客户", "count"),
    "communications": L("Communications", "沟通", "count"),
    "inbound": L("Inbound", "呼入", "count"),
    "outbound": L("Outbound", "呼出", "count"),
    "total": L("Total", "合计", "count"),
    "phone_count": L("Phone", "电话", "count"),
    "opened": L("Opened", "新建", "count"),
    "resolved": L("Resolved", "已解决", "count"),
    "created": L("Created", "新建", "count"),
    "backlog": L("Backlog", "积压", "count"),
    "backlog_breached": L("Backlog past SLA", "积压超时", "count"),
    "tickets": L("Tickets", "工单", "count"),
    "breached": L("Breached", "超时", "count"),
    "met": L("Met", "达标", "count"),
    "pending": L("Pending", "待定", "count"),
    "unknown": L("Time unknown", "时间未知", "count"),
    "n": L("Count", "数量", "count"),
    "csat_n": L("Ratings", "评分数", "count"),
    "ratings": L("Ratings", "评分数", "count"),
    "responses": L("Responses", "响应数", "count"),
    "score_1": L("Rated 1", "1 分", "count"),
    "score_2": L("Rated 2", "2 分", "count"),
    "score_3": L("Rated 3", "3 分", "count"),
    "score_4": L("Rated 4", "4 分", "count"),
    "score_5": L("Rated 5", "5 分", "count"),
    "filled": L("Filled", "已填", "count"),
    "valid": L("Valid", "有效", "count"),
    "suspect": L("Suspect", "可疑", "count"),
    "records": L("Records", "记录数", "count"),
    "orphans": L("Orphans", "孤立记录", "count"),
    "duplicates": L("Duplicates", "重复", "count"),
    "eligible": L("Eligible", "适用", "count"),
    "stale": L("Stale", "陈旧", "count"),
    "never_contacted": L("Never contacted", "从未联系", "count"),
    "members": L("Members", "成员", "count"),
    "contacted": L("Contacted", "已联系", "count"),
    "failures": L("Failures", "失败", "count"),
    "needed_per_arm": L("Needed per arm", "每组所需", "count"),
    "more_per_arm": L("More per arm", "每组还需", "count"),
    "orders": L("Orders", "订单", "count"),
    "buyers": L("Buyers", "购买客户", "count"),
    "quantity": L("Quantity", "数量", "count"),
    "duration_s": L("Duration (s)", "时长（秒）", "count"),
    "satisfaction": L("Satisfaction", "满意度", "count"),
    # money
    "amount": L("Amount", "金额", "money"),
    "unit_price": L("Unit price", "单价", "money"),
    "revenue": L("Revenue", "收入", "money"),
    "cost": L("Cost", "成本", "money"),
    "profit": L("Profit", "利润", "money"),
    "spend": L("Spend", "消费", "money"),
    "clv": L("CLV", "客户终身价值", "money"),
    "clv_total": L("CLV total", "终身价值合计", "money"),
    "clv_average": L("CLV average", "平均终身价值", "money"),
    "average_clv": L("Average CLV", "平均终身价值", "money"),
    "average_order_value": L("Average order value", "平均订单金额", "money"),
    "average_revenue": L("Average revenue", "平均收入", "money"),
    "monetary_value": L("Average repeat order", "平均复购金额", "money"),
    "expected_spend": L("Expected order value", "预期订单金额", "money"),
    "population_mean_spend": L("Population mean spend", "总体平均消费", "money"),
    "incremental_revenue": L("Incremental revenue", "增量收入", "money"),
    "revenue_per_member": L("Revenue per member", "人均收入", "money"),
    # percent (value already x100)
    "share_pct": L("Share", "占比", "percent"),
    "growth_pct": L("Growth", "增长", "percent"),
    "completeness_pct": L("Completeness", "完整度", "percent"),
    "validity_pct": L("Validity", "有效率", "percent"),
    "duplicate_rate_pct": L("Duplicate rate", "重复率", "percent"),
    "orphan_pct": L("Orphan share", "孤立占比", "percent"),
    "stale_pct": L("Stale share", "陈旧占比", "percent"),
    "compliance_pct": L("Compliance", "达标率", "percent"),
    "sla_first_response_pct": L("First-response SLA met", "首次响应达标率", "percent"),
    "sla_resolution_pct": L("Resolution SLA met", "解决达标率", "percent"),
    "response_sla_pct": L("First-response SLA met", "首次响应达标率", "percent"),
    "resolution_sla_pct": L("Resolution SLA met", "解决达标率", "percent"),
    "csat_pct": L("CSAT", "满意率", "percent"),
    "repeat_purchase_pct": L("Repeat purchase rate", "复购率", "percent"),
    "retention_pct": L("Retention rate", "留存率", "percent"),
    "overall": L("Overall score", "总分", "percent"),
    "completeness": L("Completeness", "完整度", "percent"),
    "validity": L("Validity", "有效性", "percent"),
    "uniqueness": L("Uniqueness", "唯一性", "percent"),
    "freshness": L("Freshness", "新鲜度", "percent"),
    "integrity": L("Integrity", "完整性", "percent"),
    # ratios (fractions shown as %)
    "share": L("Share of customers", "客户占比", "ratio"),
    "revenue_share": L("Share of revenue", "收入占比", "ratio"),
    "repeat_purchase_rate": L("Repeat purchase rate", "复购率", "ratio"),
    "retention_rate": L("Retention rate", "留存率", "ratio"),
    "csat": L("CSAT", "满意率", "ratio"),
    "rate": L("Rate", "比率", "ratio"),
    "conversion": L("Conversion", "转化率", "ratio"),
    "conversion_low": L("Conversion low", "转化率下限", "ratio"),
    "conversion_high": L("Conversion high", "转化率上限", "ratio"),
    "rate_1": L("Conversion 1", "转化率 1", "ratio"),
    "rate_2": L("Conversion 2", "转化率 2", "ratio"),
    "lift": L("Lift", "提升", "ratio_points"),
    "lift_low": L("Lift low", "提升下限", "ratio_points"),
    "lift_high": L("Lift high", "提升上限", "ratio_points"),
    "relative_lift": L("Relative lift", "相对提升", "ratio"),
    "relative_lift_low": L("Relative lift low", "相对提升下限", "ratio"),
    "relative_lift_high": L("Relative lift high", "相对提升上限", "ratio"),
    "roi": L("ROI", "投资回报率", "ratio"),
    "incremental_roi": L("Incremental ROI", "增量回报率", "ratio"),
    "discount": L("Annual discount rate", "年折现率", "ratio"),
    "confidence": L("Confidence", "置信度", "ratio"),
    "power": L("Power", "检验功效", "ratio"),
    "level": L("Interval level", "区间水平", "ratio"),
    # rates, probabilities, statistics (3 significant digits)
    "p_alive": L("P(alive)", "存活概率", "rate"),
    "churn_threshold": L("Churn threshold (P(alive))", "流失阈值（存活概率）", "rate"),
    "p_value": L("p-value", "p 值", "rate"),
    "chi2_p_value": L("Chi² p-value", "卡方 p 值", "rate"),
    "chi2": L("Chi²", "卡方", "rate"),
    "z": L("z", "z 值", "rate"),
    "expected_purchases": L("Expected purchases", "预期购买次数", "rate"),
    "expected_purchases_total": L("Expected purchases total", "预期购买合计", "number"),
    "backtest_mase": L("Backtest MASE", "回测 MASE", "rate"),
    "backtest_mae": L("Backtest MAE", "回测 MAE", "rate"),
    "baseline_mae": L("Baseline MAE", "基准 MAE", "rate"),
    "relative_mae": L("Relative MAE", "相对 MAE", "rate"),
    "strength_seasonality": L("Seasonal strength", "季节性强度", "rate"),
    "strength_trend": L("Trend strength", "趋势强度", "rate"),
    "effect": L("Seasonal effect", "季节效应", "rate"),
    "score": L("Score", "分数", "rate"),
    "average": L("Average rating", "平均评分", "rate"),
    "average_rating": L("Average rating", "平均评分", "rate"),
    "mean": L("Mean", "均值", "number"),
    "csat_mean": L("Average rating", "平均评分", "rate"),
    "sd": L("Standard deviation", "标准差", "rate"),
    "ci_low": L("95% CI low", "95% 区间下限", "rate"),
    "ci_high": L("95% CI high", "95% 区间上限", "rate"),
    "nps": L("NPS", "净推荐值", "rate"),
    "auc": L("AUC", "AUC", "rate"),
    "probability": L("Probability", "概率", "rate"),
    # model parameters (4 significant digits)
    "r": L("r (BG/NBD)", "r（BG/NBD）", "param"),
    "alpha": L("α (BG/NBD)", "α（BG/NBD）", "param"),
    "a": L("a (BG/NBD)", "a（BG/NBD）", "param"),
    "b": L("b (BG/NBD)", "b（BG/NBD）", "param"),
    "p": L("p (Gamma-Gamma)", "p（Gamma-Gamma）", "param"),
    "q": L("q (Gamma-Gamma)", "q（Gamma-Gamma）", "param"),
    "gamma": L("γ (Gamma-Gamma)", "γ（Gamma-Gamma）", "param"),
    "log_likelihood": L("Log-likelihood", "对数似然", "param"),
    "aic": L("AIC", "AIC", "param"),
    # estimates (one decimal)
    "forecast": L("Forecast", "预测", "number"),
    "lo80": L("80% low", "80% 下限", "number"),
    "hi80": L("80% high", "80% 上限", "number"),
    "lo95": L("95% low", "95% 下限", "number"),
    "hi95": L("95% high", "95% 上限", "number"),
    "lo": L("Expected low", "预期下限", "number"),
    "hi": L("Expected high", "预期上限", "number"),
    "expected": L("Expected", "预期", "number"),
    "observed": L("Observed", "观测", "number"),
    "seasonal": L("Seasonal", "季节项", "number"),
    "resid": L("Residual", "残差", "number"),
    "trend_start": L("Trend at start", "起始趋势", "number"),
    "trend_end": L("Trend at end", "末尾趋势", "number"),
    "median": L("Median", "中位数", "number"),
    "p90": L("90th percentile", "第 90 百分位", "number"),
    "first_response_median_min": L("First response, median", "首次响应中位数", "minutes"),
    "first_response_p90_min": L("First response, p90", "首次响应 P90", "minutes"),
    "resolution_median_h": L("Resolution, median", "解决时长中位数", "hours"),
    "resolution_p90_h": L("Resolution, p90", "解决时长 P90", "hours"),
    "median_first_response_h": L("Median first response", "首次响应中位数", "hours"),
    "first_response_minutes": L("First response (minutes)", "首次响应（分钟）"),
    "resolution_hours": L("Resolution (hours)", "解决时长（小时）"),
    "first_response": L("First response", "首次响应"),
    "resolution": L("Resolution", "解决"),
    "month_0": L("Month 0", "第 0 月", "ratio"),
    # sales (deals, the pipeline report, the dashboard's sales section)
    "deals": L("Deals", "商机", "count"),
    "open_deals": L("Open deals", "进行中商机", "count"),
    "won_deals": L("Won deals", "赢单数", "count"),
    "lost_deals": L("Lost deals", "输单数", "count"),
    "closed_deals": L("Closed deals", "已结束商机", "count"),
    "open_deals_then": L("Open deals then", "当时进行中商机", "count"),
    "won": L("Won", "赢单", "count"),
    "lost": L("Lost", "输单", "count"),
    "open_pipeline": L("Open pipeline", "进行中金额", "money"),
    "weighted_pipeline": L("Weighted pipeline", "加权金额", "money"),
    "open_amount": L("Open amount", "进行中金额", "money"),
    "weighted_amount": L("Weighted amount", "加权金额", "money"),
    "won_amount": L("Won amount", "赢单金额", "money"),
    "lost_amount": L("Lost amount", "输单金额", "money"),
    "average_won_amount": L("Average won amount", "平均赢单金额", "money"),
    "per_day": L("Per day", "每天", "money"),
    "expected_bookings": L("Expected bookings", "预计签单", "money"),
    "actual_won": L("Actually won", "实际赢单", "money"),
    "error": L("Error", "误差", "money"),
    "expected_total": L("Expected total", "预计合计", "money"),
    "actual_total": L("Actual total", "实际合计", "money"),
    "error_total": L("Total error", "合计误差", "money"),
    "mean_absolute_error": L("Mean absolute error", "平均绝对误差", "money"),
    "average_age_days": L("Average age", "平均天数", "days"),
    "idle_days": L("Idle", "停滞天数", "days"),
    "median_cycle_days": L("Median cycle", "销售周期中位数", "days"),
    "low": L("Low (95%)", "下限（95%）", "ratio"),
    "high": L("High (95%)", "上限（95%）", "ratio"),
    "win_rate": L("Win rate", "赢单率", "ratio"),
    "historical_rate": L("Historical rate", "历史赢单率", "ratio"),
    "rate_used": L("Rate used", "采用的比率", "ratio"),
    "absolute_pct_error": L("Absolute error (share)", "绝对误差占比", "ratio"),
    # value holdout, campaign plan and suggest
    "from_at": L("From", "起始"),
    "to_at": L("Until", "截止"),
    "length": L("Length", "长度", "number"),
    "actual_transactions": L("Actual purchases", "实际购买", "count"),
    "predicted_transactions": L("Predicted purchases", "预测购买", "number"),
    "actual_mean": L("Actual mean", "实际均值", "rate"),
    "predicted_mean": L("Predicted mean", "预测均值", "rate"),
    "error_pct": L("Error", "误差", "percent"),
    "correlation": L("Correlation", "相关系数", "rate"),
    "absolute_lift": L("Absolute lift", "绝对提升", "ratio_points"),
    "target_rate": L("Target conversion", "目标转化率", "ratio"),
    "effect_size_h": L("Effect size (Cohen's h)", "效应量（Cohen h）", "rate"),
    "per_arm": L("Members per arm", "每组成员", "count"),
    "total_two_arms": L("Members in two arms", "两组成员合计", "count"),
    "base_rate": L("Base response rate", "基础响应率", "ratio"),
    "candidates": L("Candidates", "候选客户", "count"),
    "cv_auc": L("Cross-validated AUC", "交叉验证 AUC", "rate"),
    "cv_auc_std": L("AUC standard deviation", "AUC 标准差", "rate"),
    "folds": L("Folds", "折数", "count"),
    "training_rows": L("Training rows", "训练样本", "count"),
    "training_responses": L("Training responses", "训练响应", "count"),
    "recency_days": L("Days since last order", "距上次订单天数", "days"),
    "past_campaigns": L("Past campaigns", "历史活动", "count"),
    "past_responses": L("Past responses", "历史响应", "count"),
    "feature": L("Feature", "特征"),
    "coefficient": L("Coefficient", "系数", "param"),
    # partial periods (#13)
    "partial": L("Partial", "不完整"),
    "partial_period": L("Partial period", "不完整周期"),
    "partial_month": L("Partial month", "不完整月份"),
    "last_period_partial": L("Last period partial", "最后一期不完整"),
    "previous_same_elapsed": L("Previous period, same elapsed part", "上期同期", "count"),
    "actual_so_far": L("Actual so far", "目前实际", "count"),
    "history_start": L("History from", "历史起始", "date"),
    "history_end": L("History until", "历史截止", "date"),
    "horizon_end_at": L("Horizon end", "预测期结束"),
    # sales pipeline (#15)
    "stage": L("Stage", "阶段"),
    "title": L("Title", "标题"),
    "basis": L("Basis", "依据"),
    "currencies": L("Currencies", "币种"),
    "month": L("Month", "月份"),
    "first_month": L("First month", "首月"),
    "months": L("Months", "月数", "count"),
    "as_of_at": L("As of", "截至"),
    "origin_at": L("Forecast made at", "预测时点"),
    "last_activity_at": L("Last activity", "最近活动"),
    "open_deals_closing_earlier": L("Open deals due earlier", "已过预计成交日的商机", "count"),
    "open_deals_without_close_date": L("Open deals without close date", "无预计成交日的商机", "count"),
    "won_deals_other_currency": L("Won deals in other currencies", "其他币种赢单", "count"),
    "min_closed_deals_for_history": L("Closed deals needed for history", "历史所需已结束商机", "count"),
    "revenue_with_deals": L("Revenue with deals", "含商机收入", "money"),
    "roi_with_deals": L("ROI with deals", "含商机回报率", "ratio"),
    "win_rate_pct": L("Win rate", "赢单率", "percent"),
    # row labels (values of metric / table columns)
    "campaign_members": L("Campaign members", "活动成员"),
    "customer_tags": L("Customer tags", "客户标签"),
    "ticket_events": L("Ticket events", "工单事件"),
    "top_segment": L("Top segment", "最佳细分"),
    "churn_risk": L("Churn risk", "流失风险", "count"),
}
# Channels as columns (contacts per channel) are counts.
for _ch, _zh in {"phone": "电话", "email": "邮件", "meeting": "会议", "chat": "聊天",
                 "sms": "短信", "visit": "拜访", "social": "社交", "other": "其他"}.items():
    LABELS.setdefault(_ch, L(_ch.capitalize(), _zh, "count"))
# fmt: on

# Section titles and what an empty section means ("why", one sentence).
SECTIONS: dict[str, Label] = {
    "period": L("Period", "周期"),
    "summary": L("Summary", "概要"),
    "settings": L("Settings", "设置"),
    "customers": L("Customers", "客户"),
    "customers_by_lifecycle": L("Customers by lifecycle", "按生命周期的客户"),
    "contacts": L("Contacts", "联系"),
    "contacts_trend": L("Contacts per week", "每周联系"),
    "tickets": L("Tickets", "工单"),
    "satisfaction": L("Satisfaction", "满意度"),
    "value": L("Value", "价值"),
    "loyalty": L("Loyalty", "忠诚度"),
    "growth": L("Growth", "增长"),
    "by_lifecycle": L("By lifecycle", "按生命周期"),
    "by_tag": L("By tag", "按标签"),
    "by_owner": L("By owner", "按负责人"),
    "score": L("Score", "得分"),
    "fields": L("Fields", "字段"),
    "duplicates": L("Duplicates", "重复"),
    "staleness": L("Staleness", "陈旧度"),
    "orphans": L("Orphan records", "孤立记录"),
    "periods": L("Periods", "各期"),
    "channels": L("Channels", "渠道"),
    "seasonality": L("Seasonality", "季节性"),
    "decomposition": L("Decomposition", "分解"),
    "seasonal_profile": L("Seasonal profile", "季节曲线"),
    "forecast_model": L("Forecast model", "预测模型"),
    "forecast": L("Forecast", "预测"),
    "anomalies": L("Anomalies", "异常"),
    "backlog_by_status": L("Backlog by status", "按状态的积压"),
    "backlog_by_priority": L("Backlog by priority", "按优先级的积压"),
    "backlog_by_assignee": L("Backlog by assignee", "按处理人的积压"),
    "aging": L("Backlog age", "积压时长"),
    "sla": L("SLA", "SLA"),
    "times": L("Response and resolution times", "响应与解决时长"),
    "csat": L("CSAT", "满意度"),
    "volume": L("Volume", "数量趋势"),
    "model": L("Purchase model (BG/NBD)", "购买模型（BG/NBD）"),
    "spend_model": L("Spend model (Gamma-Gamma)", "消费模型（Gamma-Gamma）"),
    "rfm_segments": L("RFM segments", "RFM 细分"),
    "holdout": L("Holdout check", "留出检验"),
    "cohorts": L("Cohorts (share still buying)", "同期群（仍在购买的比例）"),
    "churn_risk": L("Churn risk", "流失风险"),
    "campaign": L("Campaign", "营销活动"),
    "arms": L("Arms", "分组"),
    "comparisons": L("Comparisons", "比较"),
    "members": L("Members", "成员"),
    "suggestions": L("Suggested customers", "推荐客户"),
    "sales": L("Sales", "销售"),
    "by_stage": L("Open pipeline by stage", "按阶段的进行中商机"),
    "totals": L("Totals", "合计"),
    "win_rate_by_owner": L("Win rate by owner", "按负责人的赢单率"),
    "sales_cycle_days": L("Sales cycle (days)", "销售周期（天）"),
    "velocity": L("Pipeline velocity", "销售速度"),
    "funnel": L("Funnel", "漏斗"),
    "forecast_stage_rates": L("Forecast: stage win rates", "预测：各阶段赢单率"),
    "forecast_notes": L("Forecast notes", "预测说明"),
    "forecast_backtest": L("Forecast backtest", "预测回测"),
    "forecast_backtest_summary": L("Forecast backtest summary", "预测回测概要"),
    "stalled": L("Stalled deals", "停滞商机"),
    "holdout_by_frequency": L("Holdout by repeat purchases", "按复购次数的留出检验"),
    "plan": L("Sample size plan", "样本量计划"),
    "coefficients": L("Model coefficients", "模型系数"),
    "deals": L("Deals", "商机"),
    "win_rate": L("Win rate", "赢单率"),
}

EMPTY: dict[str, Label] = {
    "backlog_by_status": L(
        "No ticket is open at the end of the period, so there is no backlog.",
        "期末没有未关闭的工单，因此没有积压。",
    ),
    "backlog_by_priority": L(
        "No ticket is open at the end of the period, so there is no backlog.",
        "期末没有未关闭的工单，因此没有积压。",
    ),
    "backlog_by_assignee": L(
        "No ticket is open at the end of the period, so there is no backlog.",
        "期末没有未关闭的工单，因此没有积压。",
    ),
    "aging": L(
        "No ticket is open at the end of the period, so nothing is aging.",
        "期末没有未关闭的工单，因此没有积压时长。",
    ),
    "sla": L("No ticket in the period has an SLA clock.", "本期没有带 SLA 计时的工单。"),
    "times": L(
        "No ticket in the period has a first response or a resolution yet.",
        "本期没有已响应或已解决的工单。",
    ),
    "volume": L("No ticket was opened in the period.", "本期没有新建工单。"),
    "forecast": L("Too little history for a forecast.", "历史数据太少，无法预测。"),
    "anomalies": L("No period lies outside the expected range.", "没有超出预期范围的周期。"),
    "churn_risk": L(
        "No formerly valuable customer is below the churn threshold.",
        "没有高价值客户低于流失阈值。",
    ),
    "cohorts": L(
        "No orders in the period, so there are no cohorts.", "本期没有订单，因此没有同期群。"
    ),
    "customers": L("No customer matches.", "没有符合条件的客户。"),
    "rfm_segments": L(
        "No customer has an order, so there are no RFM segments.",
        "没有客户下过订单，因此没有 RFM 细分。",
    ),
    "growth": L("No customer was created in the period.", "本期没有新增客户。"),
    "by_tag": L("No customer has a tag.", "没有客户带标签。"),
    "by_owner": L("No customer has an owner.", "没有客户有负责人。"),
    "by_lifecycle": L("No customers yet.", "还没有客户。"),
    "customers_by_lifecycle": L("No customers yet.", "还没有客户。"),
    "orphans": L("No table has records without their customer.", "没有缺少客户的孤立记录。"),
    "fields": L("No customers yet, so no field to check.", "还没有客户，没有可检查的字段。"),
    "periods": L("No communication in the period.", "本期没有沟通记录。"),
    "channels": L("No communication in the period.", "本期没有沟通记录。"),
    "contacts_trend": L("No communication in the period.", "本期没有沟通记录。"),
    "decomposition": L("Too little history for a decomposition.", "历史数据太少，无法分解。"),
    "seasonal_profile": L(
        "Too little history for a seasonal profile.", "历史数据太少，无法得到季节曲线。"
    ),
    "arms": L("The campaign has no members yet.", "该活动还没有成员。"),
    "comparisons": L("No arm to compare with another yet.", "还没有可比较的分组。"),
    "members": L("The campaign has no members yet.", "该活动还没有成员。"),
    "suggestions": L("No customer in the segment to rank.", "细分中没有可排序的客户。"),
}

_SNAKE = re.compile(r"_+")


def lang() -> str:
    """The display language: --lang, else $CRM_LANG, else English."""
    from crmcli.core.config import settings

    chosen = str(settings.extra.get("lang") or os.environ.get("CRM_LANG") or "en")
    return "zh" if chosen.strip().lower().startswith("zh") else "en"


def _pick(entry: Label, language: str | None = None) -> str:
    return entry.zh if (language or lang()) == "zh" else entry.en


def humanize(key: str) -> str:
    """A label for a key the table does not know: `since_at` -> `Since`."""
    text = key[:-3] if key.endswith("_at") else key
    text = _SNAKE.sub(" ", text).strip()
    return text[:1].upper() + text[1:] if text else key


def month_label(key: str, language: str | None = None) -> str | None:
    if key.startswith("month_") and key[6:].isdigit():
        n = int(key[6:])
        return f"第 {n} 月" if (language or lang()) == "zh" else f"Month {n}"
    return None


def label(key: str, language: str | None = None, with_unit: bool = True) -> str:
    """The column or row label for a field name, with its unit (h, min, days)."""
    entry = LABELS.get(key)
    if entry is None:
        return month_label(key, language) or humanize(key)
    text = _pick(entry, language)
    unit = UNITS.get(entry.kind)
    if with_unit and unit:
        text += f" ({unit[1] if (language or lang()) == 'zh' else unit[0]})"
    return text


def kind(key: str) -> str:
    """The number kind of a field: money, percent, ratio, rate, param, count, ... or text."""
    entry = LABELS.get(key)
    if entry is not None:
        if entry.kind == "text" and key.endswith("_at"):
            return "time"
        return entry.kind
    if key.startswith("month_") and key[6:].isdigit():
        return "ratio"
    if key.endswith("_at"):
        return "time"
    if key.endswith("_pct"):
        return "percent"
    if key.endswith("_id") or key == "id":
        return "id"
    if key.endswith(("_count", "_n")):
        return "count"
    return "number"


def section_title(name: str, language: str | None = None) -> str:
    entry = SECTIONS.get(name)
    return _pick(entry, language) if entry else humanize(name)


def empty_sentence(name: str, language: str | None = None) -> str:
    """Why a section has no rows, in one sentence."""
    entry = EMPTY.get(name)
    if entry is not None:
        return _pick(entry, language)
    title = section_title(name, "en").lower()
    if (language or lang()) == "zh":
        return f"本期没有{section_title(name, 'zh')}数据。"
    return f"No {title} in the period."


def absent_sentence(reason: str, language: str | None = None) -> str:
    """An absent section's reason as a sentence: `No data: <reason>.`"""
    reason = reason.strip().rstrip(".")
    if (language or lang()) == "zh":
        return f"没有数据：{reason}。"
    return f"No data: {reason}."


# ------------------------------------------------------------------ numbers by kind

# In a key-figure row ({"metric": ..., "value": ..., "previous": ..., "change": ...}) these
# columns take the kind of the row's metric (or of its unit), not of their own name.
FIGURE_COLUMNS = ("value", "previous", "change")
_UNIT_KINDS = {"%": "percent", "h": "hours", "min": "minutes", "d": "days", "days": "days"}


def row_kind(metric: str, unit: Any = None, column: str = "value") -> str:
    """The kind of a key figure: from its unit (%, h, a currency code) or its metric name.

    The `change` of a percentage is in percentage points."""
    found = _row_kind(metric, unit)
    if column == "change" and found in ("percent", "ratio"):
        return "points" if found == "percent" else "ratio_points"
    return found


def _row_kind(metric: str, unit: Any = None) -> str:
    if isinstance(unit, str) and unit:
        if unit in _UNIT_KINDS:
            return _UNIT_KINDS[unit]
        if len(unit) == 3 and unit.isalpha() and unit.isupper():
            return "money"
    found = kind(metric)
    return (
        "rate" if found == "number" and isinstance(unit, str) and unit.startswith("of ") else found
    )


def _significant(value: float, digits: int) -> str:
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= 6:
        return f"{value:.{digits - 1}e}"
    decimals = max(0, digits - 1 - magnitude)
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_number(value: Any, number_kind: str, currency: str | None = None) -> str:
    """A number as a person reads it, by kind (see the module doc); other values as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    if number_kind == "money":
        text = f"{value:,.2f}"
        return f"{text} {currency}" if currency else text
    if number_kind == "percent":
        return f"{value:,.1f}%"
    if number_kind == "ratio":
        return f"{value * 100:,.1f}%"
    if number_kind == "points":  # a change of a percentage, in percentage points
        return f"{value:+,.1f} pp"
    if number_kind == "ratio_points":
        return f"{value * 100:+,.1f} pp"
    if number_kind == "rate":
        return _significant(float(value), 3)
    if number_kind == "param":
        return _significant(float(value), 4)
    if number_kind == "id":
        return str(int(value)) if float(value).is_integer() else str(value)
    return _format_plain(value, number_kind)


def _format_plain(value: int | float, number_kind: str) -> str:
    """A count, or a number of no special kind (its precision follows its size)."""
    # Kept apart from format_number so the kind dispatch and the size rule read separately.
    if number_kind == "count" or isinstance(value, int):
        return f"{value:,.0f}"
    if abs(value) >= 1e6:
        return _significant(float(value), 4)
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return _significant(float(value), 3)


XLSX_FORMATS = {
    "money": "#,##0.00",
    "percent": "0.0%",  # the value is divided by 100 when written
    "ratio": "0.0%",
    "rate": "0.000",
    "param": "0.0000",
    "count": "#,##0",
    "id": "0",
    "hours": "#,##0.0",
    "minutes": "#,##0.0",
    "days": "#,##0.0",
    "weeks": "#,##0.0",
    "number": "#,##0.0##",
    "points": "+0.0;-0.0;0.0",
    "ratio_points": "+0.0%;-0.0%;0.0%",
}


def xlsx_number(value: float, number_kind: str) -> tuple[float, str]:
    """The value to store in a cell and its Excel number format."""
    if number_kind == "percent":
        return value / 100.0, XLSX_FORMATS["percent"]
    if number_kind == "points":
        return value / 100.0, XLSX_FORMATS["ratio_points"]
    if number_kind in XLSX_FORMATS:
        return value, XLSX_FORMATS[number_kind]
    return value, "#,##0" if isinstance(value, int) else XLSX_FORMATS["number"]


WORDS: dict[str, Label] = {
    "period": L("period", "周期"),
    "as_of": L("as of", "截至"),
    "database": L("database", "数据库"),
    "contents": L("Contents", "目录"),
    "yes": L("yes", "是"),
    "no": L("no", "否"),
    "generated": L("Generated by crmcli", "由 crmcli 生成"),
    "trend": L("trend", "趋势"),
    "about": L("About", "关于"),
    "title": L("Title", "标题"),
    "subtitle": L("Details", "说明"),
}


# Report and chart titles (written in English by the commands and report builders).
TITLES: dict[str, str] = {
    "CRM dashboard": "CRM 仪表盘",
    "Customers": "客户",
    "Data quality": "数据质量",
    "Communications": "沟通",
    "Tickets": "工单",
    "Customer value": "客户价值",
    "Loyalty": "忠诚度",
    "Suggested customers": "推荐客户",
    "Communications per week": "每周沟通",
    "Customers by lifecycle": "按生命周期的客户",
    "Contacts per period": "每期联系",
    "Forecast with 95% interval": "预测（95% 区间）",
    "Tickets opened and resolved": "新建与解决的工单",
    "Backlog age": "积压时长",
    "New customers per period": "每期新客户",
    "Customers (cumulative)": "累计客户",
    "By owner": "按负责人",
}


def title(text: str, language: str | None = None) -> str:
    """A report or chart title in the display language (unknown titles as they are)."""
    if (language or lang()) == "zh":
        return TITLES.get(text, text)
    return text


def more_columns(n: int, language: str | None = None) -> str:
    """`3 more columns (in markdown, HTML and XLSX)` under a terminal table cut to fit."""
    if (language or lang()) == "zh":
        return f"另有 {n} 列（见 markdown、HTML 和 XLSX）"
    return f"{n} more column{'s' if n != 1 else ''} (in markdown, HTML and XLSX)"


def more_rows(shown: int, total: int, language: str | None = None) -> str:
    """`showing 20 of 37,909 (all in json, csv, markdown, HTML and XLSX)` under a terminal
    table cut to its first rows."""
    if (language or lang()) == "zh":
        return f"显示 {shown:,} / {total:,} 行（全部见 json、csv、markdown、HTML 和 XLSX）"
    return f"showing {shown:,} of {total:,} (all in json, csv, markdown, HTML and XLSX)"


def word(key: str, language: str | None = None) -> str:
    entry = WORDS.get(key)
    return _pick(entry, language) if entry else key


def yes_no(value: bool, language: str | None = None) -> str:
    return word("yes" if value else "no", language)
