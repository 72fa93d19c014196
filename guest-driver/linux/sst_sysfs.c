// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs attributes of /dev/sstN, under /sys/class/misc/sstN/:
 * the device's identity (from its config space and the negotiation) at the
 * top level, the per-device counters in stats/.
 */
#include <linux/device.h>
#include <linux/sysfs.h>

#include "sst_dev.h"

static struct sst_device *sst_from_dev(struct device *dev)
{
	struct miscdevice *misc = dev_get_drvdata(dev);

	return container_of(misc, struct sst_device, misc);
}

#define SST_CONFIG_ATTR(_name, _fmt, _expr)					\
static ssize_t _name##_show(struct device *dev,					\
			    struct device_attribute *attr, char *buf)		\
{										\
	struct sst_device *sdev = sst_from_dev(dev);				\
										\
	return sysfs_emit(buf, _fmt "\n", _expr);				\
}										\
static DEVICE_ATTR_RO(_name)

SST_CONFIG_ATTR(protocol_version, "%#x", sdev->config.version);
SST_CONFIG_ATTR(device_id, "%u", sdev->config.device_id);
SST_CONFIG_ATTR(device_features, "%#x", sdev->config.features);
SST_CONFIG_ATTR(max_queues, "%u", sdev->config.max_queues);
SST_CONFIG_ATTR(features, "%#llx", (unsigned long long)sdev->features);
SST_CONFIG_ATTR(queue_size, "%u", sdev->queue_size);

static struct attribute *sst_info_attrs[] = {
	&dev_attr_protocol_version.attr,
	&dev_attr_device_id.attr,
	&dev_attr_device_features.attr,
	&dev_attr_max_queues.attr,
	&dev_attr_features.attr,
	&dev_attr_queue_size.attr,
	NULL,
};

static const struct attribute_group sst_info_group = {
	.attrs = sst_info_attrs,
};

#define SST_STAT_ATTR(_name, _fmt)						\
static ssize_t _name##_show(struct device *dev,					\
			    struct device_attribute *attr, char *buf)		\
{										\
	struct sst_ioc_stats st;						\
										\
	sst_get_stats(sst_from_dev(dev), &st);					\
	return sysfs_emit(buf, _fmt "\n", st._name);				\
}										\
static DEVICE_ATTR_RO(_name)

SST_STAT_ATTR(submitted, "%llu");
SST_STAT_ATTR(completed, "%llu");
SST_STAT_ATTR(status_errors, "%llu");
SST_STAT_ATTR(timeouts, "%llu");
SST_STAT_ATTR(late, "%llu");
SST_STAT_ATTR(bad_responses, "%llu");
SST_STAT_ATTR(aborted, "%llu");
SST_STAT_ATTR(events, "%llu");
SST_STAT_ATTR(events_dropped, "%llu");
SST_STAT_ATTR(bad_events, "%llu");
SST_STAT_ATTR(queue_full, "%llu");
SST_STAT_ATTR(in_flight, "%u");
SST_STAT_ATTR(open_files, "%u");

static struct attribute *sst_stats_attrs[] = {
	&dev_attr_submitted.attr,
	&dev_attr_completed.attr,
	&dev_attr_status_errors.attr,
	&dev_attr_timeouts.attr,
	&dev_attr_late.attr,
	&dev_attr_bad_responses.attr,
	&dev_attr_aborted.attr,
	&dev_attr_events.attr,
	&dev_attr_events_dropped.attr,
	&dev_attr_bad_events.attr,
	&dev_attr_queue_full.attr,
	&dev_attr_in_flight.attr,
	&dev_attr_open_files.attr,
	NULL,
};

static const struct attribute_group sst_stats_group = {
	.name = "stats",
	.attrs = sst_stats_attrs,
};

const struct attribute_group *sst_attr_groups[] = {
	&sst_info_group,
	&sst_stats_group,
	NULL,
};
